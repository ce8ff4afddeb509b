"""A vLLM engine in its own process, driven by JSON lines, fed continuously: the vLLM backend's worker.

    python -m teachers.vllm_worker --model DIR [--dtype float32] [--tensor-parallel-size 1]
        [--omp-threads N] [--kv-cache-gb 1] [--max-model-len L] [--gpu-memory-utilization 0.9]
        [--compiled | --eager] [--engine-json '{"enable_prefix_caching": true}']

Why a subprocess: vLLM must see its environment (VLLM_ENABLE_V1_MULTIPROCESSING, OMP_NUM_THREADS,
VLLM_CPU_KVCACHE_SPACE) before torch is imported, and the factory process may already have torch
imported; its engine processes are spawned, which needs the `__main__` guard below.

Continuous batching without a barrier: requests are read from stdin on a thread and added to the
engine (`LLMEngine.add_request`) as they arrive; the main loop `step()`s the engine and answers each
request the moment it finishes, so the parent can send the next one while long samples still run.
This is the loop `LLM.generate` runs internally, minus its wait for the whole batch.

Protocol. The worker moves fd 1 to stderr (so library prints cannot corrupt the channel) and talks on
a private copy of the original stdout. It writes `{"ready": true, ...}` once the engine is up, then
for each request line `{"id", "prompt_token_ids": [int], "seed": int, "sampling": {SamplingParams
fields}}` answers `{"id", "outputs": [{"text", "tokens", "finish_reason"}]}` when it finishes, or
`{"id", "error"}` when vLLM refuses it (e.g. a prompt longer than the context). `{"error"}` without
an id means the engine itself failed. Each prompt is one request with `n` samples and its own seed:
sample i is the i-th draw of that request's seeded generator, whatever else is in flight.

Defaults per device: on GPU, CUDA graphs (compiled mode) and vLLM's engine multiprocessing are on;
on CPU the engine runs eager and in-process (compiled mode adds 7-30 s of start-up for nothing on
small models, and in-process start is ~3.5 s; see DESIGN.md). `--engine-json` (the recipe's
`teacher.engine:` block) overrides any engine argument.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading


def _parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m teachers.vllm_worker")
    p.add_argument("--model", required=True)
    p.add_argument("--dtype", default="auto")
    p.add_argument("--tensor-parallel-size", type=int, default=1)
    p.add_argument("--omp-threads", type=int, default=0, help="0 = leave OMP_NUM_THREADS as it is")
    p.add_argument("--kv-cache-gb", type=float, default=0, help="VLLM_CPU_KVCACHE_SPACE (CPU only; 0 = default)")
    p.add_argument("--max-model-len", type=int, default=0)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--compiled", dest="compiled", action="store_true", default=None,
                      help="torch.compile / CUDA graphs (default on GPU)")
    mode.add_argument("--eager", dest="compiled", action="store_false", help="eager mode (default on CPU)")
    p.add_argument("--engine-json", default="{}", help="extra engine arguments (teacher.engine)")
    return p.parse_args(argv)


def _set_env(args: argparse.Namespace) -> bool:
    """Everything vLLM and torch read at import time; must run before vLLM is imported. Returns on_gpu."""
    if args.omp_threads:
        os.environ["OMP_NUM_THREADS"] = str(args.omp_threads)
    if args.kv_cache_gb:
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(int(args.kv_cache_gb) if args.kv_cache_gb >= 1 else 1)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch  # after OMP_NUM_THREADS; vLLM reads its own variables only when imported

    on_gpu = torch.cuda.is_available()
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "1" if on_gpu else "0"
    return on_gpu


def _channel():
    """A private handle on the real stdout; fd 1 now points at stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def engine_kwargs(model: str, dtype: str = "auto", tensor_parallel_size: int = 1, max_model_len: int = 0,
                  gpu_memory_utilization: float = 0.9, compiled: bool | None = None, engine: dict | None = None) -> dict:
    """`LLM(...)` arguments; also used by bench/bench_generate.py so the baseline runs the same engine.

    On CPU, chunked prefill is off and one step can hold a whole prompt: vLLM-CPU 0.32 crashes
    ("CPU Generator does not use offset") when a request with its own seed is prefilled in chunks.
    """
    import torch

    on_gpu = torch.cuda.is_available()
    compiled = on_gpu if compiled is None else compiled
    # "auto" on CPU would downcast fp32 checkpoints to bf16; keep fp32 there (matches the HF backend).
    kwargs = dict(model=model, dtype="float32" if dtype == "auto" and not on_gpu else dtype,
                  tensor_parallel_size=tensor_parallel_size, enforce_eager=not compiled,
                  gpu_memory_utilization=gpu_memory_utilization, seed=0)
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    if not on_gpu:
        context = max_model_len or _model_context(model)
        kwargs.update(enable_chunked_prefill=False, max_num_batched_tokens=max(context, 4096))
    return kwargs | dict(engine or {})


def _model_context(model: str) -> int:
    from transformers import AutoConfig

    return int(getattr(AutoConfig.from_pretrained(model), "max_position_embeddings", 4096) or 4096)


def _engine(args):
    from vllm import LLM

    return LLM(**engine_kwargs(args.model, args.dtype, args.tensor_parallel_size, args.max_model_len,
                               args.gpu_memory_utilization, args.compiled, json.loads(args.engine_json)))


def sampling_params(sampling: dict, seed: int):
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind

    return SamplingParams(**sampling, seed=seed, output_kind=RequestOutputKind.FINAL_ONLY)


def _reply(output, ids: dict) -> dict:
    return {"id": ids.pop(output.request_id, output.request_id),
            "outputs": [{"text": o.text, "tokens": len(o.token_ids), "finish_reason": o.finish_reason or "stop"}
                        for o in sorted(output.outputs, key=lambda o: o.index)]}


def _read_stdin(inbox: queue.Queue) -> None:
    for line in sys.stdin:
        if line.strip():
            inbox.put(json.loads(line))
    inbox.put(None)  # EOF: finish what is in flight, then exit


def serve(engine, inbox: queue.Queue, chan) -> None:
    """Add requests as they come, step while any is unfinished, answer each one when it finishes."""
    eof, ids = False, {}  # vLLM's internal request id -> ours (it may add a random suffix)
    while not eof or engine.has_unfinished_requests():
        block = not engine.has_unfinished_requests()
        while not eof:
            try:
                req = inbox.get(block=block)
            except queue.Empty:
                break
            block = False
            if req is None:
                eof = True
                break
            try:
                internal = engine.add_request(req["id"], {"prompt_token_ids": req["prompt_token_ids"]},
                                              sampling_params(req["sampling"], req["seed"]))
                ids[internal] = req["id"]
            except Exception as e:  # refused by vLLM (too long, bad field): the parent stops the stage
                chan.write(json.dumps({"id": req["id"], "error": f"{type(e).__name__}: {e}"}) + "\n")
        if engine.has_unfinished_requests():
            for out in engine.step():
                if out.finished:
                    chan.write(json.dumps(_reply(out, ids)) + "\n")


def _warm_up(llm) -> None:
    """One tiny request so the first real one does not pay for lazy initialisation."""
    from vllm import SamplingParams

    llm.generate([{"prompt_token_ids": [0]}], SamplingParams(max_tokens=2, seed=0), use_tqdm=False)


def main(argv=None) -> int:
    args = _parse(argv)
    _set_env(args)
    chan = _channel()
    llm = _engine(args)
    _warm_up(llm)
    chan.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    inbox: queue.Queue = queue.Queue()
    threading.Thread(target=_read_stdin, args=(inbox,), daemon=True).start()
    try:
        serve(llm.llm_engine, inbox, chan)
    except Exception as e:  # the engine itself failed: reported to the parent, which raises with this text
        chan.write(json.dumps({"error": f"{type(e).__name__}: {e}"}) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
