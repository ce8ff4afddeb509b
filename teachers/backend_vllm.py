"""vLLM backend: the default teacher engine, run in `teachers.vllm_worker` subprocesses, fed continuously.

One worker per data-parallel rank (`teacher.data_parallel_size`), each an engine with
`tensor_parallel_size` GPUs (rank r gets GPUs r*tp .. r*tp+tp-1 of CUDA_VISIBLE_DEVICES). `submit`
sends a request to the least-loaded worker at once; a reader thread per worker collects answers as
the engine finishes them, and `poll` hands them over. With `generation.engine_batch` requests in flight
per worker the engine always has work queued (no batch barrier: a finished request is replaced at
once). Each prompt is one vLLM request with `n` samples and seed `prompt_seed(generation.seed,
prompt_id)`: sample_idx i is the i-th of the n sequences that seeded request draws (vLLM's output
index), independent of what else is in flight or which rank ran it.

Worker environment: OMP_NUM_THREADS (`teacher.omp_threads`; 1 for tests, since more threads than
cores run ~25x slower), VLLM_CPU_KVCACHE_SPACE (`teacher.cpu_kv_cache_gb`), set in the worker before
torch is imported; engine multiprocessing and CUDA graphs follow the device (vllm_worker), and
`teacher.engine` passes any other engine argument.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from core.lifetime import die_with_parent
from teachers.backend_base import GenOutput, GenRequest, PermanentError, drain

READY_TIMEOUT_S = 900


class WorkerDied(RuntimeError):
    pass


class _Worker:
    def __init__(self, cmd: list[str], env: dict, log_path: Path):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.closing = False
        # The worker dies with the stage (core.lifetime): an orphan would keep its GPU memory.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     env=env, text=True, bufsize=1, preexec_fn=die_with_parent)

    def send(self, obj: dict) -> None:
        try:
            self.proc.stdin.write(json.dumps(obj) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as e:
            raise WorkerDied(f"vLLM worker gone ({type(e).__name__}); last log lines:\n{self.tail()}") from e

    def receive(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            raise WorkerDied(f"vLLM worker exited with code {self.proc.returncode}; last log lines:\n"
                             + self.tail())
        reply = json.loads(line)
        if "error" in reply:
            raise WorkerDied(f"vLLM worker failed: {reply['error']}")
        return reply

    def read_into(self, results: queue.Queue) -> None:
        """Reader thread: every answer line goes to `results`; EOF puts a WorkerDied."""
        for line in self.proc.stdout:
            if line.strip():
                results.put((self, json.loads(line)))
        if self.closing:
            return
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        results.put((self, WorkerDied(f"vLLM worker exited with code {self.proc.returncode}; last log lines:\n"
                                      + self.tail())))

    def tail(self, n: int = 15) -> str:
        self.log.flush()
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def close(self, abort: bool = False) -> None:
        self.closing = True
        if self.proc.poll() is None:
            if abort:  # requests still in flight after a failure: do not wait for them
                self.proc.terminate()
            try:
                self.proc.stdin.close()  # EOF ends the worker's loop
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def worker_command(model_path: str, teacher_cfg) -> list[str]:
    cmd = [sys.executable, "-m", "teachers.vllm_worker", "--model", str(model_path),
           "--dtype", teacher_cfg.dtype, "--tensor-parallel-size", str(teacher_cfg.tensor_parallel_size),
           "--gpu-memory-utilization", str(teacher_cfg.gpu_memory_utilization)]
    if teacher_cfg.omp_threads:
        cmd += ["--omp-threads", str(teacher_cfg.omp_threads)]
    if teacher_cfg.cpu_kv_cache_gb:
        cmd += ["--kv-cache-gb", str(teacher_cfg.cpu_kv_cache_gb)]
    if teacher_cfg.max_model_len:
        cmd += ["--max-model-len", str(teacher_cfg.max_model_len)]
    if teacher_cfg.engine:
        cmd += ["--engine-json", json.dumps(teacher_cfg.engine)]
    return cmd


def _rank_env(rank: int, tp: int, dp: int) -> dict:
    env = dict(os.environ)
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if dp > 1:
        gpus = visible.split(",") if visible else [str(i) for i in range(dp * tp)]
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus[rank * tp:(rank + 1) * tp])
    root = str(Path(__file__).resolve().parent.parent)  # the worker imports `teachers` from this checkout
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else root
    return env


class VLLMBackend:
    name = "vllm"

    def __init__(self, model_path: str, teacher_cfg, log_dir: Path | None = None, capacity: int = 256):
        log_dir = Path(log_dir or tempfile.mkdtemp(prefix="vllm-worker-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        cmd = worker_command(model_path, teacher_cfg)
        tp, dp = teacher_cfg.tensor_parallel_size, teacher_cfg.data_parallel_size
        self.workers = [_Worker(cmd, _rank_env(r, tp, dp), log_dir / f"vllm-worker-{r}.log") for r in range(dp)]
        self.capacity = capacity * dp
        self.results: queue.Queue = queue.Queue()
        self.pending: dict[str, GenRequest] = {}
        self.load = {id(w): 0 for w in self.workers}
        self.next_id = 0
        started = time.time()
        try:
            for w in self.workers:
                w.receive()  # {"ready": true}
        except Exception:
            self.close()
            raise
        for w in self.workers:
            threading.Thread(target=w.read_into, args=(self.results,), daemon=True).start()
        self.startup_s = time.time() - started

    def submit(self, request: GenRequest, sampling: dict) -> None:
        worker = min(self.workers, key=lambda w: self.load[id(w)])
        rid = f"r{self.next_id}"
        self.next_id += 1
        self.pending[rid] = request
        self.load[id(worker)] += 1
        worker.send({"id": rid, "prompt_token_ids": request.prompt_ids, "seed": request.seed, "sampling": sampling})

    def poll(self) -> list[tuple[GenRequest, list[GenOutput]]]:
        """Requests finished since the last call (blocks until one is); raises when a worker or request fails."""
        items = drain(self.results)
        done = []
        for worker, reply in items:
            if isinstance(reply, Exception):
                raise reply
            if "id" not in reply:
                raise WorkerDied(f"vLLM worker failed: {reply.get('error')}")
            req = self.pending.pop(reply["id"])
            self.load[id(worker)] -= 1
            if "error" in reply:
                raise PermanentError(f"vLLM refused prompt {req.prompt_row['prompt_id']}: {reply['error']}")
            wanted = set(req.sample_indices)
            done.append((req, [GenOutput(i, o["text"], o["tokens"], o["finish_reason"])
                               for i, o in enumerate(reply["outputs"]) if i in wanted]))
        return done

    def close(self) -> None:
        for w in self.workers:
            w.close(abort=bool(self.pending))
        self.workers = []
