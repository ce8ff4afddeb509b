"""Benchmark: the eval stage on lm-eval's transformers backend vs its vLLM (CPU) backend, same model and requests.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_eval_backend.py [--model teachers/assets/micro-teacher]
        [--prompts runs/micro/prompts-<hash>] [--k 4] [--threads 1]

Runs `eval.evaluate.run` once per backend, each in a fresh process (same OMP thread count, model, held-out
prompts, k, T = 0.6, top_p 0.95, max_gen_toks 400, seed 0), back to back, and prints wall seconds
(engine/model start included: that is what a stage pays), accuracy and mean tokens of each, and the ratio
hf / vllm. The default model is the shipped micro teacher; the default prompts are the newest micro run's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _args():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(REPO / "teachers" / "assets" / "micro-teacher"))
    p.add_argument("--prompts", default=None, help="a prompts stage folder (default: newest runs/micro/prompts-*)")
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workdir", default="/tmp/bench_eval_backend")
    p.add_argument("--one", choices=["hf", "vllm"], help=argparse.SUPPRESS)  # child mode
    return p.parse_args()


def eval_config(backend: str, k: int) -> dict:
    return {"backend": backend, "base_url": None, "batch_size": 200, "include_teacher": True, "k": k,
            "limit": None, "max_gen_toks": 400, "seed": 0, "tasks": ["heldout"], "temperature": 0.6,
            "top_p": 0.95}


def child(args) -> None:
    """One backend in this process: run the eval stage, print one JSON line."""
    sys.path.insert(0, str(REPO))
    from eval import evaluate
    from factory.stages import StageContext

    out = Path(args.workdir) / args.one
    shutil.rmtree(out, ignore_errors=True)  # the stage would reuse an earlier results.json
    out.mkdir(parents=True)
    ctx = StageContext(f"eval.{args.one}", "eval", {"eval": eval_config(args.one, args.k), "label": "bench",
                                                    "teacher_model": args.model},
                       {"prompts": Path(args.prompts)}, out, None)
    t0 = time.perf_counter()
    evaluate.run(ctx)
    wall = time.perf_counter() - t0
    heldout = json.loads((out / "results.json").read_text())["tasks"]["heldout"]
    print(json.dumps({"backend": args.one, "wall_s": round(wall, 1), "acc": heldout["acc"],
                      "tokens": heldout["tokens"], "completions": heldout["n_prompts"] * heldout["k"]}))


def main() -> None:
    args = _args()
    if args.prompts is None:
        found = sorted((REPO / "runs" / "micro").glob("prompts-*/manifest.json"), key=os.path.getmtime)
        if not found:
            sys.exit("no runs/micro/prompts-* folder: run `factory run recipes/micro.yaml --until prompts` "
                     "or pass --prompts")
        args.prompts = str(found[-1].parent)
    if args.one:
        return child(args)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), HF_HUB_OFFLINE="1", FACTORY_QUIET="1",
               TOKENIZERS_PARALLELISM="false")
    rows = {}
    for backend in ("hf", "vllm"):
        proc = subprocess.run([sys.executable, __file__, "--one", backend, "--model", args.model, "--prompts",
                               args.prompts, "--k", str(args.k), "--workdir", args.workdir],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            sys.exit(f"{backend} failed:\n{proc.stderr[-2000:]}")
        rows[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"model {args.model}; {rows['hf']['completions']} completions per backend; {args.threads} thread(s)")
    for r in rows.values():
        print(f"  {r['backend']:5s} {r['wall_s']:7.1f} s   acc {100 * r['acc']:5.1f} %   mean tokens {r['tokens']:6.1f}")
    print(f"ratio hf / vllm wall time: {rows['hf']['wall_s'] / rows['vllm']['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
