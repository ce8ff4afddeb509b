"""A vLLM offline engine in its own process, driven by JSON lines: the vLLM backend's worker.

    python -m teachers.vllm_worker --model DIR [--dtype float32] [--tensor-parallel-size 1]
        [--omp-threads N] [--kv-cache-gb 1] [--max-model-len L] [--gpu-memory-utilization 0.9]

Why a subprocess: vLLM must see its environment (VLLM_ENABLE_V1_MULTIPROCESSING, OMP_NUM_THREADS,
VLLM_CPU_KVCACHE_SPACE) before torch is imported, and the factory process may already have torch
imported; its engine processes are spawned, which needs the `__main__` guard below.

Protocol. The worker moves fd 1 to stderr (so library prints cannot corrupt the channel) and talks on
a private copy of the original stdout. It writes `{"ready": true, ...}` once the engine is up, then
for each request line on stdin
    {"prompt_token_ids": [[int]], "seeds": [int], "n", "temperature", "top_p", "max_tokens", "stop", "top_k"}
answers one line `{"outputs": [[{"text", "tokens", "finish_reason"}] per prompt]}` (or `{"error": ...}`).
Each prompt is one request with `n` samples and its own seed: sample i of a prompt is the i-th draw of
that request's seeded generator, so a prompt's samples do not depend on what it is batched with.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m teachers.vllm_worker")
    p.add_argument("--model", required=True)
    p.add_argument("--dtype", default="auto")
    p.add_argument("--tensor-parallel-size", type=int, default=1)
    p.add_argument("--omp-threads", type=int, default=0, help="0 = leave OMP_NUM_THREADS as it is")
    p.add_argument("--kv-cache-gb", type=float, default=0, help="VLLM_CPU_KVCACHE_SPACE (CPU only; 0 = default)")
    p.add_argument("--max-model-len", type=int, default=0)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    p.add_argument("--compiled", action="store_true", help="allow torch.compile / CUDA graphs (default: eager)")
    return p.parse_args(argv)


def _set_env(args: argparse.Namespace) -> None:
    """Everything vLLM and torch read at import time; must run before either is imported."""
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    if args.omp_threads:
        os.environ["OMP_NUM_THREADS"] = str(args.omp_threads)
    if args.kv_cache_gb:
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(int(args.kv_cache_gb) if args.kv_cache_gb >= 1 else 1)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _channel():
    """A private handle on the real stdout; fd 1 now points at stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def engine_kwargs(model: str, dtype: str = "auto", tensor_parallel_size: int = 1, max_model_len: int = 0,
                  gpu_memory_utilization: float = 0.9, compiled: bool = False) -> dict:
    """`LLM(...)` arguments; also used by bench/bench_generate.py so the baseline runs the same engine.

    On CPU, chunked prefill is off and one step can hold a whole prompt: vLLM-CPU 0.32 crashes
    ("CPU Generator does not use offset") when a request with its own seed is prefilled in chunks.
    """
    import torch

    on_gpu = torch.cuda.is_available()
    # "auto" on CPU would downcast fp32 checkpoints to bf16; keep fp32 there (matches the HF backend).
    kwargs = dict(model=model, dtype="float32" if dtype == "auto" and not on_gpu else dtype,
                  tensor_parallel_size=tensor_parallel_size, enforce_eager=not compiled,
                  gpu_memory_utilization=gpu_memory_utilization, seed=0)
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    if not on_gpu:
        context = max_model_len or _model_context(model)
        kwargs.update(enable_chunked_prefill=False, max_num_batched_tokens=max(context, 4096))
    return kwargs


def _model_context(model: str) -> int:
    from transformers import AutoConfig

    return int(getattr(AutoConfig.from_pretrained(model), "max_position_embeddings", 4096) or 4096)


def _engine(args):
    from vllm import LLM

    return LLM(**engine_kwargs(args.model, args.dtype, args.tensor_parallel_size, args.max_model_len,
                               args.gpu_memory_utilization, args.compiled))


def _sampling(req: dict, seed: int):
    from vllm import SamplingParams

    extra = {"top_k": req["top_k"]} if req.get("top_k") else {}
    return SamplingParams(n=req["n"], temperature=req["temperature"], top_p=req["top_p"],
                          max_tokens=req["max_tokens"], stop=req.get("stop") or None, seed=seed, **extra)


def handle(llm, req: dict) -> dict:
    prompts = [{"prompt_token_ids": ids} for ids in req["prompt_token_ids"]]
    params = [_sampling(req, s) for s in req["seeds"]]
    results = llm.generate(prompts, params, use_tqdm=False)
    return {"outputs": [[{"text": o.text, "tokens": len(o.token_ids), "finish_reason": o.finish_reason or "stop"}
                         for o in sorted(r.outputs, key=lambda o: o.index)] for r in results]}


def _warm_up(llm) -> None:
    """One tiny request so the first real batch does not pay for lazy initialisation."""
    from vllm import SamplingParams

    llm.generate([{"prompt_token_ids": [0]}], SamplingParams(max_tokens=2, seed=0), use_tqdm=False)


def main(argv=None) -> int:
    args = _parse(argv)
    _set_env(args)
    chan = _channel()
    llm = _engine(args)
    _warm_up(llm)
    chan.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = handle(llm, json.loads(line))
        except Exception as e:  # reported to the parent, which raises with this text
            reply = {"error": f"{type(e).__name__}: {e}"}
        chan.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
