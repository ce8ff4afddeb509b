"""Kill soak: run a small factory recipe under repeated SIGKILLs at random moments until it finishes.

    .venv/bin/python bench/kill_soak.py --kills 30 --max-delay 20

It builds the end-to-end test's recipe (the shipped micro teacher, few prompts), starts `factory run`,
SIGKILLs it after a random delay, and repeats; then lets it finish and checks what a user relies on:
every artifact passes its sha256 checks, every (prompt_id, sample_idx) key is present exactly once in
the generated and verified samples, and no temp or partial file is left. Prints one line per kill
(which stage was running) and a summary: kills survived, samples lost, duplicates.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from factory import runner  # noqa: E402
from factory.recipe import load_recipe  # noqa: E402
from tests.test_end_to_end import shrink_micro  # noqa: E402


def running_stage(root: Path) -> str:
    partial = sorted(root.glob("*.partial"), key=lambda p: p.stat().st_mtime)
    return partial[-1].name.rsplit("-", 1)[0] if partial else "(between stages)"


def sample_keys(folder: Path) -> collections.Counter:
    keys = collections.Counter()
    for shard in sorted((folder / "samples").glob("shard-*.jsonl")):
        if shard.name.endswith(".partial.jsonl"):
            continue
        for line in shard.read_text().splitlines():
            row = json.loads(line)
            keys[(row["prompt_id"], row["sample_idx"])] += 1
    return keys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--max-delay", type=float, default=20.0, help="seconds; each kill waits U(0.5, this)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kill-soak-"))
    recipe_path = work / "soak.yaml"
    recipe_path.write_text(yaml.safe_dump(shrink_micro(work), sort_keys=False))
    root = work / "runs" / "micro-e2e"
    rng, survived, by_stage = random.Random(args.seed), 0, collections.Counter()
    cmd = [sys.executable, "-m", "factory.cli", "run", str(recipe_path)]
    for i in range(args.kills):
        proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rng.uniform(0.5, args.max_delay)
        try:
            proc.wait(timeout=delay)
            print(f"run {i}: finished before the kill ({delay:.1f}s)")
            break
        except subprocess.TimeoutExpired:
            stage = running_stage(root) if root.exists() else "(start-up)"
            proc.kill()
            proc.wait()
            survived += 1
            by_stage[stage] += 1
            print(f"kill {i}: SIGKILL after {delay:.1f}s during {stage}")
    t0 = time.time()
    final = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    if final.returncode != 0:
        print(final.stderr[-2000:])
        return 1
    recipe = load_recipe(recipe_path)
    planned = runner.plan(recipe, full_check=True)
    bad = [p.stage.name for p in planned if not p.cached]
    n_prompts = sum(1 for _ in (next(p.dir for p in planned if p.stage.name == "prompts") / "train.jsonl").open())
    expected = n_prompts * recipe.generation.n
    lost = dup = 0
    for name in ("generate", "verify"):
        keys = sample_keys(next(p.dir for p in planned if p.stage.name == name))
        lost += expected - len(keys)
        dup += sum(c - 1 for c in keys.values())
    leftovers = [str(p) for p in root.rglob("*") if p.name.endswith((".tmp", ".partial.jsonl")) or p.name.endswith(".partial")]
    print(f"final run {time.time() - t0:.1f}s; kills survived {survived} {dict(by_stage)}; stages not intact {bad}; "
          f"samples lost {lost}; duplicates {dup}; leftovers {len(leftovers)}")
    return 0 if not bad and lost == 0 and dup == 0 and not leftovers else 1


if __name__ == "__main__":
    sys.exit(main())
