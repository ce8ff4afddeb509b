"""vLLM offline backend: the default teacher engine, run in `teachers.vllm_worker` subprocesses.

One worker per data-parallel rank (`teacher.data_parallel_size`), each an `LLM` with
`tensor_parallel_size` GPUs (rank r gets GPUs r*tp .. r*tp+tp-1 of CUDA_VISIBLE_DEVICES). A call
splits its requests evenly across the workers, sends every part at once and gathers the answers, so
ranks generate in parallel. Each prompt is one vLLM request with `n` samples and seed
`prompt_seed(generation.seed, prompt_id)`: sample_idx i is the i-th of the n sequences that seeded
request draws (vLLM's output index), independent of batch composition or which rank ran it.

Worker environment: VLLM_ENABLE_V1_MULTIPROCESSING=0, OMP_NUM_THREADS (`teacher.omp_threads`; 1
for tests, since more threads than cores run ~25x slower), VLLM_CPU_KVCACHE_SPACE
(`teacher.cpu_kv_cache_gb`), all set in the worker before torch is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from factory.lifetime import die_with_parent
from teachers.backend_base import GenOutput, GenRequest, SamplingSpec

READY_TIMEOUT_S = 900


class WorkerDied(RuntimeError):
    pass


class _Worker:
    def __init__(self, cmd: list[str], env: dict, log_path: Path):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        # The worker dies with the stage (factory.lifetime): an orphan would keep its GPU memory.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     env=env, text=True, bufsize=1, preexec_fn=die_with_parent)

    def send(self, obj: dict) -> None:
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

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

    def tail(self, n: int = 15) -> str:
        self.log.flush()
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # EOF ends the worker's loop
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

    def __init__(self, model_path: str, teacher_cfg, log_dir: Path | None = None):
        log_dir = Path(log_dir or tempfile.mkdtemp(prefix="vllm-worker-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        cmd = worker_command(model_path, teacher_cfg)
        tp, dp = teacher_cfg.tensor_parallel_size, teacher_cfg.data_parallel_size
        self.workers = [_Worker(cmd, _rank_env(r, tp, dp), log_dir / f"vllm-worker-{r}.log") for r in range(dp)]
        started = time.time()
        try:
            for w in self.workers:
                w.receive()  # {"ready": true}
        except Exception:
            self.close()
            raise
        self.startup_s = time.time() - started

    def generate(self, requests: list[GenRequest], spec: SamplingSpec) -> list[list[GenOutput]]:
        if not requests:
            return []
        parts = _split(requests, len(self.workers))
        busy = []
        for worker, part in zip(self.workers, parts):
            if part:
                worker.send({"prompt_token_ids": [r.prompt_ids for r in part], "seeds": [r.seed for r in part],
                             "n": spec.n, "temperature": spec.temperature, "top_p": spec.top_p,
                             "max_tokens": spec.max_tokens, "stop": spec.stop, "top_k": spec.top_k})
                busy.append((worker, part))
        results = []
        for worker, part in busy:
            for req, outs in zip(part, worker.receive()["outputs"]):
                wanted = set(req.sample_indices)
                results.append([GenOutput(i, o["text"], o["tokens"], o["finish_reason"])
                                for i, o in enumerate(outs) if i in wanted])
        return results

    def close(self) -> None:
        for w in self.workers:
            w.close()
        self.workers = []


def _split(items: list, parts: int) -> list[list]:
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for p in range(parts):
        end = start + size + (1 if p < extra else 0)
        out.append(items[start:end])
        start = end
    return out
