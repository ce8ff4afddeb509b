"""SIGKILL at random moments during dataset building and evaluation, then resume through the runner.

Each real stage runs in a forked child through `factory.runner`'s own stage path (work folder ->
manifest -> rename) and is killed at 5 random times; a final run completes it. The published artifact
must then pass its checksums, hold no leftover temp files, and equal an uninterrupted run's output.
(Generation and training have their own kill tests: tests/teachers/test_kill_resume.py,
tests/students/test_resume_and_launch.py; the runner's own resume: tests/factory/test_runner.py.)
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from factory import runner
from factory.graph import Stage
from core.manifest import check_artifact

KILLS = 5


def _run_stage(kind: str, config: dict, inputs: dict[str, Path], out: Path) -> None:
    upstream = {role: runner.PlannedStage(Stage(role, "input", {}, hash=role * 4), d, "cached")
                for role, d in inputs.items()}
    target = Stage(f"{kind}-under-test", kind, config, {role: role for role in inputs}, hash="0" * 64)
    recipe = SimpleNamespace(torch_threads=1, resolve_path=lambda p: Path(p))
    runner._run_stage(recipe, runner.PlannedStage(target, out, "stale"), upstream)


def _killed_then_finished(kind, config, inputs, out: Path, seed: int) -> list[float]:
    """Kill the stage KILLS times at random moments (0..its full run time), then let it finish."""
    ctx = multiprocessing.get_context("fork")
    t0 = time.time()
    ref = ctx.Process(target=_run_stage, args=(kind, config, inputs, out.with_name(out.name + "-timing")))
    ref.start()
    ref.join()
    full = time.time() - t0
    rng, kill_times = random.Random(seed), []
    for _ in range(KILLS):
        p = ctx.Process(target=_run_stage, args=(kind, config, inputs, out))
        p.start()
        delay = rng.uniform(0.05, full)
        p.join(delay)
        if p.is_alive():
            os.kill(p.pid, signal.SIGKILL)
            kill_times.append(round(delay, 2))
        p.join()
    last = ctx.Process(target=_run_stage, args=(kind, config, inputs, out))
    last.start()
    last.join()
    assert last.exitcode == 0
    return kill_times


def _assert_clean(out: Path) -> None:
    assert check_artifact(out, "0" * 64, full=True) is None
    assert not out.with_name(out.name + ".partial").exists()
    leftovers = [p for p in out.rglob("*") if p.name.endswith((".tmp", ".partial.jsonl"))]
    assert leftovers == []


@pytest.mark.slow
def test_dataset_building_survives_random_kills(tmp_path):
    from datasets import load_from_disk

    from tests.factory.data.handmade import write_stage_inputs

    prompts, verified = write_stage_inputs(tmp_path / "in")
    config = {"datasets": {}, "seed": 0}
    inputs = {"verified": verified, "prompts": prompts}
    reference = tmp_path / "reference"
    _run_stage("datasets", config, inputs, reference)
    out = tmp_path / "killed"
    kills = _killed_then_finished("datasets", config, inputs, out, seed=1)
    _assert_clean(out)
    for name in ("sft", "shortest", "pairs", "rl_pool"):
        assert load_from_disk(str(out / name)).to_list() == load_from_disk(str(reference / name)).to_list(), name
    assert json.loads((out / "stats.json").read_text()) == json.loads((reference / "stats.json").read_text())
    print(f"datasets: killed at {kills} s")


@pytest.mark.slow
def test_evaluation_survives_random_kills(tmp_path, tiny_model_dir):
    from tests.eval.helpers import EVAL_CFG, prompts_folder

    student = tmp_path / "student"
    student.mkdir()
    (student / "model").symlink_to(tiny_model_dir)
    config = {"eval": EVAL_CFG, "label": "long", "teacher_model": "some-org/teacher"}
    inputs = {"prompts": prompts_folder(tmp_path), "model": student}
    reference = tmp_path / "reference"
    _run_stage("eval", config, inputs, reference)
    out = tmp_path / "killed"
    kills = _killed_then_finished("eval", config, inputs, out, seed=2)
    _assert_clean(out)
    got = json.loads((out / "results.json").read_text())["tasks"]
    want = json.loads((reference / "results.json").read_text())["tasks"]
    assert got == want
    print(f"eval: killed at {kills} s")
