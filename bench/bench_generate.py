"""Benchmark: the factory's generate stage vs raw `vllm.LLM.generate`, same prompts/model/sampling, one run.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_generate.py [--prompts 32 --n 8 --max-tokens 150 --threads 1]
        [--shards 1] [--with-hf]

Builds the micro teacher's shape offline (qwen2, hidden 256, 6 layers, 8 heads, vocab ~400, random init, so
every completion runs to max_tokens), then measures, back to back:
  1. raw vLLM: `LLM(...).generate` over all prompts in one call (in this process), engine start excluded;
  2. the factory (1 and 2 interleaved --reps times; the best of each is compared): `teachers.generate.run` with backend vllm (worker subprocess, shards, fsynced partial files,
     manifests), tokens/s over the shards' generation time, engine start excluded;
  3. optionally (--with-hf) the same stage on the transformers backend.
Prints tokens/s of each and the ratio factory / raw (goal >= 0.97). Both engines get the same seeds per
prompt, fp32, eager mode and the same OMP thread count, which must be set before torch is imported.

    ... bench/bench_generate.py --mixed [--prompts 64 --n 4 --max-tokens 30 --long-every 8 --long-factor 10
        --engine-batch 16]

Mixed-length workload: every `--long-every`-th prompt may run `--long-factor` x longer (max_tokens; the
random-init model runs to it). Compares, on the same engine and requests: the old factory's batches (raw
`LLM.generate` per `--engine-batch` prompts, waiting for the longest of each), the factory's continuous
submission (`--engine-batch` requests kept in flight, a finished one replaced at once), and one raw
`LLM.generate` over everything (vLLM's own scheduler, no barrier: the ceiling).
"""

from __future__ import annotations

import argparse
import os
import sys


def _args():
    p = argparse.ArgumentParser()
    p.add_argument("--prompts", type=int, default=32)
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=150)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--with-hf", action="store_true")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--workdir", default="/tmp/bench_generate")
    p.add_argument("--mixed", action="store_true", help="mixed-length workload: continuous vs batches")
    p.add_argument("--long-every", type=int, default=8)
    p.add_argument("--long-factor", type=int, default=10)
    p.add_argument("--engine-batch", type=int, default=256)
    return p.parse_args()


ARGS = _args()
os.environ.update(VLLM_ENABLE_V1_MULTIPROCESSING="0", OMP_NUM_THREADS=str(ARGS.threads), VLLM_CPU_KVCACHE_SPACE="1",
                  HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", FACTORY_QUIET="1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import shutil  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from core.atomic import write_jsonl  # noqa: E402
from factory.stages import StageContext  # noqa: E402
from teachers.backend_base import prompt_seed  # noqa: E402
from teachers.config import TinyModel  # noqa: E402
from teachers.conventions import get_convention, render_prompt_ids  # noqa: E402

MICRO_SHAPE = TinyModel(architecture="qwen2", hidden_size=256, num_layers=6, num_heads=8, intermediate_size=768)
SEED = 0


def build(work: Path):
    from students.tiny import build_model, build_tokenizer, save_pretrained

    corpus = [f"What is {a} + {b}? <think>{a} + {b} = {a + b}. Wait, let me verify.</think>{a + b}"
              for a in range(10, 60) for b in range(10, 30)]
    tok = build_tokenizer(corpus, vocab_size=400)
    model_dir = save_pretrained(build_model(tok, MICRO_SHAPE, seed=0), tok, work / "model")
    rows = [{"prompt_id": f"p{i:04d}", "source": "bench", "prompt": f"What is {10 + i} + {20 + 2 * i}?",
             "gold": str(30 + 3 * i), "task": "math", "split": "train", "metadata": {}} for i in range(ARGS.prompts)]
    write_jsonl(work / "prompts" / "train.jsonl", rows)
    return model_dir, rows, tok


class RawVLLM:
    """The baseline: one `LLM.generate` call over all prompts, in this process."""

    def __init__(self, model_dir: Path, rows: list[dict], tok):
        from vllm import LLM, SamplingParams

        from teachers.vllm_worker import engine_kwargs

        started = time.time()
        self.llm = LLM(**engine_kwargs(str(model_dir)))  # exactly the factory worker's engine settings
        self.startup_s = time.time() - started
        conv = get_convention("generic")
        self.prompts = [{"prompt_token_ids": render_prompt_ids(tok, r, conv)} for r in rows]
        self.params = [SamplingParams(n=ARGS.n, temperature=1.0, top_p=1.0, max_tokens=max_tokens(r["prompt_id"]),
                                      seed=prompt_seed(SEED, r["prompt_id"])) for r in rows]
        self.llm.generate(self.prompts[:1], self.params[:1], use_tqdm=False)  # warm-up, as the worker does

    def measure(self, batch: int | None = None) -> dict:
        """One `generate` over all prompts, or (batch) one per `batch` prompts as the old factory did."""
        batch = batch or len(self.prompts)
        started, outs = time.time(), []
        for i in range(0, len(self.prompts), batch):
            outs += self.llm.generate(self.prompts[i:i + batch], self.params[i:i + batch], use_tqdm=False)
        wall = time.time() - started
        tokens = sum(len(o.token_ids) for r in outs for o in r.outputs)
        return {"tokens": tokens, "wall_s": wall, "tokens_per_s": tokens / wall}


def max_tokens(prompt_id: str) -> int:
    """The mixed workload's per-prompt length cap (every long_every-th prompt long_factor x longer)."""
    if ARGS.mixed and int(prompt_id[1:]) % ARGS.long_every == 0:
        return ARGS.max_tokens * ARGS.long_factor
    return ARGS.max_tokens


def _shape_lengths() -> None:
    """Mixed workload only: give each request its prompt's cap (the recipe has one max_tokens for all)."""
    from teachers import backend_vllm

    submit = backend_vllm.VLLMBackend.submit

    def shaped(self, request, sampling):
        submit(self, request, {**sampling, "max_tokens": max_tokens(request.prompt_row["prompt_id"])})

    backend_vllm.VLLMBackend.submit = shaped


def factory(work: Path, model_dir: Path, backend: str, rep: int = 0) -> dict:
    from teachers.generate import run

    out = work / f"out-{backend}-{rep}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    teacher = {"model": str(model_dir), "backend": backend, "omp_threads": ARGS.threads, "cpu_kv_cache_gb": 1}
    gen = {"n": ARGS.n, "max_tokens": ARGS.max_tokens, "temperature": 1.0, "top_p": 1.0, "shards": ARGS.shards,
           "seed": SEED, "batch_size": 16, "engine_batch": ARGS.engine_batch}
    ctx = StageContext("generate", "generate", {"teacher": teacher, "generation": gen},
                       {"prompts": work / "prompts"}, out, None)
    if backend == "transformers":
        import torch

        torch.set_num_threads(ARGS.threads)
    started = time.time()
    summary = run(ctx)
    return {"tokens": summary["tokens"], "tokens_per_s": summary["tokens_per_s"],
            "startup_s": summary["engine_startup_s"], "total_s": time.time() - started}


def mixed(work: Path, model_dir: Path, rows: list[dict], tok) -> None:
    _shape_lengths()
    raw = RawVLLM(model_dir, rows, tok)
    for rep in range(ARGS.reps):
        batched = raw.measure(ARGS.engine_batch)
        print(f"old batches ({ARGS.engine_batch} prompts/call) #{rep}: {batched['tokens']} tokens = "
              f"{batched['tokens_per_s']:.0f} tok/s", flush=True)
        cont = factory(work, model_dir, "vllm", rep)
        print(f"factory continuous ({ARGS.engine_batch} in flight) #{rep}: {cont['tokens']} tokens = "
              f"{cont['tokens_per_s']:.0f} tok/s", flush=True)
        one = raw.measure()
        print(f"raw one call (ceiling) #{rep}: {one['tokens']} tokens = {one['tokens_per_s']:.0f} tok/s", flush=True)
        print(f"ratio continuous / old batches = {cont['tokens_per_s'] / batched['tokens_per_s']:.2f}; "
              f"continuous / ceiling = {cont['tokens_per_s'] / one['tokens_per_s']:.2f}", flush=True)


def main() -> None:
    work = Path(ARGS.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    model_dir, rows, tok = build(work)
    print(f"shape {MICRO_SHAPE.model_dump()} vocab {len(tok)}; {ARGS.prompts} prompts x n={ARGS.n}, "
          f"max_tokens {ARGS.max_tokens}, OMP threads {ARGS.threads}, shards {ARGS.shards}", flush=True)
    if ARGS.mixed:
        return mixed(work, model_dir, rows, tok)
    raw = RawVLLM(model_dir, rows, tok)
    raws, facs = [], []
    for rep in range(ARGS.reps):  # interleaved, so load from other processes hits both alike
        raws.append(raw.measure())
        print(f"raw vLLM   #{rep}: {raws[-1]['tokens']} tokens in {raws[-1]['wall_s']:.1f}s = "
              f"{raws[-1]['tokens_per_s']:.0f} tok/s (engine start {raw.startup_s:.1f}s)", flush=True)
        facs.append(factory(work, model_dir, "vllm", rep))
        print(f"factory    #{rep}: {facs[-1]['tokens']} tokens = {facs[-1]['tokens_per_s']:.0f} tok/s (worker start "
              f"{facs[-1]['startup_s']:.1f}s, stage total {facs[-1]['total_s']:.1f}s)", flush=True)
    best_raw = max(r["tokens_per_s"] for r in raws)
    best_fac = max(f["tokens_per_s"] for f in facs)
    same = all(f["tokens"] == raws[0]["tokens"] for f in facs)
    print(f"ratio factory/raw (best of {ARGS.reps} each) = {best_fac / best_raw:.3f}  (goal >= 0.97); "
          f"identical token counts: {same}")
    fac = {"tokens_per_s": best_fac}
    if ARGS.with_hf:
        hf = factory(work, model_dir, "transformers")
        print(f"transformers: {hf['tokens']} tokens = {hf['tokens_per_s']:.0f} tok/s (stage total {hf['total_s']:.1f}s)")
        print(f"ratio vLLM-factory/transformers = {fac['tokens_per_s'] / hf['tokens_per_s']:.2f}")


if __name__ == "__main__":
    main()
