"""Benchmark: SFT tokens/s with packing (TRL "bfd", padding-free) vs without, in one run.

Varied-length reasoning traces (1-25 "wait, let me verify" detours: ~30-520 tokens) make a padded
batch waste most of its compute on pad tokens; packing fills every row. Both arms train the same
random-init Qwen2-shaped model on the same samples for the same number of optimizer steps through
students.sft.build_trainer (the job's own code path); tokens/s counts non-padding tokens only.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_sft_packing.py [--steps 6] [--hidden 128]

Prints both rates and the ratio (goal >= 1.5x). Results: docs/benchmarks.md, "Student training".
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def traces(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        detours = " ".join(f"Wait, let me verify: {a + b} - {b} = {a}. Yes." for _ in range(rng.randint(1, 25)))
        rows.append({"messages": [
            {"role": "user", "content": f"What is {a} + {b}?"},
            {"role": "assistant", "content": f"<think>{a} + {b} = {a + b}. {detours}</think>{a + b}"}]})
    return rows


def measure(packing: bool, model_dir: Path, dataset, steps: int, batch: int, max_length: int) -> dict:
    from transformers.trainer_callback import PrinterCallback

    from students import sft
    from students.config import SFTJob

    job = SFTJob.model_validate({"name": "bench", "kind": "sft", "init": {"path": str(model_dir)},
                                 "max_steps": steps, "per_device_train_batch_size": batch,
                                 "max_length": max_length, "learning_rate": 1e-4,
                                 "trl": {"packing": packing, "save_steps": 10_000}})
    with tempfile.TemporaryDirectory() as out:
        trainer, _ = sft.build_trainer(job, str(model_dir), dataset, Path(out))
        trainer.remove_callback(PrinterCallback)
        t0 = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - t0
    tokens = int(trainer.state.num_input_tokens_seen)
    return {"tokens": tokens, "wall_s": wall, "tokens_per_s": tokens / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--packed-batch", type=int, default=None,
                        help="rows per step with packing (default: --batch); padding-free flattens them into one "
                             "sequence, so without a varlen attention kernel its attention cost is quadratic in it")
    args = parser.parse_args()

    import torch
    from datasets import Dataset

    from students.common import quiet
    from students.tiny import build_tiny
    from teachers.config import TinyModel

    quiet()
    torch.manual_seed(0)
    rows = traces(args.samples)
    with tempfile.TemporaryDirectory() as tmp:
        spec = TinyModel(hidden_size=args.hidden, num_layers=args.layers, num_heads=args.hidden // 32,
                         intermediate_size=args.hidden * 2)
        model_dir = build_tiny(Path(tmp) / "model", corpus=[r["messages"][1]["content"] for r in rows[:50]],
                               spec=spec, vocab_size=1024)
        dataset = Dataset.from_list(rows)
        off = measure(False, model_dir, dataset, args.steps, args.batch, args.max_length)
        on = measure(True, model_dir, dataset, args.steps, args.packed_batch or args.batch, args.max_length)
    print(f"threads={torch.get_num_threads()} model hidden={args.hidden} layers={args.layers} "
          f"batch={args.batch} packed_batch={args.packed_batch or args.batch} steps={args.steps} max_length={args.max_length}")
    print(f"packing off: {off['tokens']} tokens in {off['wall_s']:.1f} s = {off['tokens_per_s']:.0f} tokens/s")
    print(f"packing on : {on['tokens']} tokens in {on['wall_s']:.1f} s = {on['tokens_per_s']:.0f} tokens/s")
    print(f"ratio on/off: {on['tokens_per_s'] / off['tokens_per_s']:.2f}x (goal >= 1.5x)")


if __name__ == "__main__":
    main()
