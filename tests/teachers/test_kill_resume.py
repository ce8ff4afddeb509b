"""kill -9 a generation run at 5 random points, resume each time: exactly the expected keys, no
duplicates, and completed shards byte-identical to an uninterrupted run.

Children come from a forkserver that imported torch/transformers once, so each restart costs
milliseconds, not an interpreter start. Each child writes one line to a progress file after every
batch; the test kills it (SIGKILL) a random time after it made progress, so every restart advances.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time
from pathlib import Path

import pytest

from core.atomic import read_jsonl
from tests.teachers.helpers import generate_ctx, write_prompts

GEN = {"n": 2, "max_tokens": 6, "shards": 3, "batch_size": 1, "temperature": 1.0, "top_p": 1.0, "seed": 5}

# transformers imports lazily: without its auto/qwen2 modules here, every child pays ~10 s of imports.
PRELOAD = ["torch", "transformers", "transformers.models.auto.tokenization_auto",
           "transformers.models.auto.modeling_auto", "transformers.models.qwen2.modeling_qwen2",
           "transformers.generation.utils", "teachers.generate", "teachers.backend_hf",
           "tests.teachers.test_kill_resume"]


def _child(model: str, prompts: str, out: str, progress: str, delay: float) -> None:
    """Run the stage with a slowed backend that reports each finished batch."""
    import torch

    from teachers import backend_hf
    from teachers.generate import run

    torch.set_num_threads(1)
    original = backend_hf.HFBackend.generate

    def slowed(self, requests, spec):
        result = original(self, requests, spec)
        time.sleep(delay)
        return result

    backend_hf.HFBackend.generate = slowed
    import teachers.shards as shards

    append = shards.PartialWriter.append

    def reporting(self, rows):
        append(self, rows)
        with open(progress, "a") as f:
            f.write("batch\n")

    shards.PartialWriter.append = reporting
    run(generate_ctx(Path(out), Path(prompts), {"model": model, "backend": "transformers"}, GEN))


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.slow
def test_kill_nine_five_times_then_resume(tiny_model_dir, tmp_path):
    import torch

    from teachers.generate import run

    prompts = write_prompts(tmp_path / "prompts", 15)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ref = run(generate_ctx(tmp_path / "ref", prompts, {"model": str(tiny_model_dir), "backend": "transformers"},
                               GEN))
    finally:
        torch.set_num_threads(threads)

    from multiprocessing import forkserver

    forkserver._forkserver._stop()  # a fork server started by another test would ignore our preload list
    mp_ctx = mp.get_context("forkserver")
    mp_ctx.set_forkserver_preload(PRELOAD)
    rng = random.Random(1234)
    out, progress = tmp_path / "out", tmp_path / "progress.txt"
    args = (str(tiny_model_dir), str(prompts), str(out), str(progress), 0.2)
    kills, timings = 0, []
    while kills < 5:
        seen = _lines(progress)
        child = mp_ctx.Process(target=_child, args=args)
        t0 = time.time()
        child.start()
        deadline = time.time() + 120
        while _lines(progress) == seen and child.is_alive() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.25))  # anywhere: in generate, in the append, in a shard finalize
        if not child.is_alive():
            break
        child.kill()  # SIGKILL
        child.join()
        kills += 1
        timings.append(round(time.time() - t0, 2))
    print("kill times", timings)
    assert kills == 5, "the run finished before 5 kills: make it slower"
    child = mp_ctx.Process(target=_child, args=args[:-1] + (0.0,))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0

    rows = [r for p in sorted((out / "samples").glob("shard-?????.jsonl")) for r in read_jsonl(p)]
    keys = [(r["prompt_id"], r["sample_idx"]) for r in rows]
    assert len(keys) == len(set(keys)) == 30
    assert set(keys) == {(f"p{i:04d}", s) for i in range(15) for s in range(2)}
    for shard in sorted((tmp_path / "ref" / "samples").glob("shard-?????.jsonl")):
        assert (out / "samples" / shard.name).read_bytes() == shard.read_bytes()
    assert ref["samples"] == 30
