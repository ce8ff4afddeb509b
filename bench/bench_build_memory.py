"""Benchmark: the `datasets` stage on 1 million synthetic verified samples (n = 8 per prompt).

Goal (issue 5): peak RSS <= 1 GiB while every builder (SFT, shortest, pairs, RL pool) runs, and the time.
The synthetic shards are written first; the build then runs in a fresh child process so its peak RSS
(`ru_maxrss` of the child) covers only the build. Prints the peak, its ratio to the 1 GiB budget, the
wall time and the throughput.

    .venv/bin/python bench/bench_build_memory.py                 # 1,000,000 rows
    .venv/bin/python bench/bench_build_memory.py --rows 40000    # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUDGET_BYTES = 1 << 30
CONFIG = {"datasets": {"sft": {"max_per_prompt": 4}, "pairs": {"kinds": ["kimi", "flash"], "max_pairs_per_prompt": 4},
                       "rl_pool": {"min_pass_rate": 0.0, "max_pass_rate": 1.0, "order": "curriculum"}}, "seed": 0}
PARAGRAPH = "Let me add the tens first, then the ones. Wait, let me verify that carry once more. "


def synthetic_sample(rng: random.Random, pid: str, idx: int, prompt: str, skill: float) -> dict:
    ntok = rng.randint(40, 1200)
    correct = rng.random() < skill
    reasoning = "\n\n".join(PARAGRAPH * rng.randint(1, 3) for _ in range(rng.randint(1, 3)))
    return {"prompt_id": pid, "prompt": prompt, "sample_idx": idx, "completion": f"<think>{reasoning}</think>42",
            "reasoning": reasoning, "answer": "The answer is 42.", "finish_reason": "stop", "completion_tokens": ntok,
            "truncated": False, "teacher": "synthetic-teacher", "gen_params_hash": "bench",
            "verdict": {"correct": correct, "reason": "", "verifier": "bench"}, "format_ok": True,
            "lang_ok": rng.random() > 0.02}


def write_inputs(root: Path, rows: int, n: int, shards: int = 8) -> tuple[Path, Path]:
    rng = random.Random(0)
    prompts_dir, verified = root / "prompts", root / "verified"
    (verified / "samples").mkdir(parents=True)
    prompts_dir.mkdir()
    n_prompts = rows // n
    per_shard = -(-n_prompts // shards)
    with open(prompts_dir / "train.jsonl", "w") as pf:
        for s in range(shards):
            with open(verified / "samples" / f"shard-{s:05d}.jsonl", "w") as sf:
                for p in range(s * per_shard, min(n_prompts, (s + 1) * per_shard)):
                    pid, text = f"{p:016x}", f"Calculate {p % 97} + {p % 89}. Show your reasoning."
                    pf.write(json.dumps({"prompt_id": pid, "source": "bench", "prompt": text, "gold": "42",
                                         "task": "procedural:basic_arithmetic", "split": "train",
                                         "metadata": {"source_dataset": "basic_arithmetic"}}) + "\n")
                    skill = rng.random()
                    sf.writelines(json.dumps(synthetic_sample(rng, pid, i, text, skill)) + "\n" for i in range(n))
    return prompts_dir, verified


CHILD = """
import json, sys, threading, time
from pathlib import Path
peak = {"RssAnon": 0, "RssFile": 0}
def sample():  # split the peak into anonymous memory and file-backed (memory-mapped Arrow) pages
    while True:
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        for key in peak:
            peak[key] = max(peak[key], int(status[key].split()[0]))
        time.sleep(0.05)
threading.Thread(target=sample, daemon=True).start()
from factory.stages import StageContext
from factory.data.build import run
root = Path(sys.argv[1])
out = root / "out"; out.mkdir()
ctx = StageContext("datasets", "datasets", json.loads(sys.argv[2]),
                   {"prompts": root / "prompts", "verified": root / "verified"}, out, None)
t = time.perf_counter()
summary = run(ctx)
print(json.dumps({"seconds": time.perf_counter() - t, "rows": {k: v["rows"] for k, v in summary["datasets"].items()},
                  "peak_anon_kib": peak["RssAnon"], "peak_file_kib": peak["RssFile"]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--n", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        write_inputs(root, args.rows, args.n)
        size = sum(f.stat().st_size for f in (root / "verified" / "samples").glob("*.jsonl"))
        print(f"wrote {args.rows:,} samples ({size / 2**20:.0f} MiB of shards) in {time.perf_counter() - t:.1f} s")
        env = dict(os.environ, HF_HUB_OFFLINE="1", FACTORY_QUIET="1", PYTHONPATH=str(REPO))
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", CHILD, str(root), json.dumps(CONFIG)], env=env, cwd=REPO,
                              capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode:
            sys.exit(f"build failed:\n{proc.stderr[-3000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    print(f"build rows: {result['rows']}")
    print(f"build time: {result['seconds']:.1f} s in stage ({wall:.1f} s with interpreter start), "
          f"{args.rows / result['seconds']:,.0f} samples/s")
    print(f"peak RSS: {peak / 2**20:.0f} MiB = {peak / BUDGET_BYTES:.2f} x the 1 GiB budget "
          f"({'PASS' if peak <= BUDGET_BYTES else 'FAIL'})")
    print(f"  of which at most {result['peak_anon_kib'] / 1024:.0f} MiB anonymous and "
          f"{result['peak_file_kib'] / 1024:.0f} MiB file-backed (memory-mapped Arrow, reclaimable)")


if __name__ == "__main__":
    main()
