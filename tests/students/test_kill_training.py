"""SIGKILL at 5 random moments of an SFT job; each restart resumes from the newest checkpoint.

The finished run has exactly the configured number of steps, one loss entry per step (no step done
twice in the final history), the saved model, and no checkpoint left behind.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time

import pytest

from tests.students.test_resume_and_launch import _job, _run_in_child

STEPS = 200


@pytest.mark.slow
def test_sft_survives_five_random_kills(make_ctx, init_dir, data_dir):
    ctx = make_ctx(_job(max_steps=STEPS, trl={"save_steps": 2}), {"init": init_dir, "data": data_dir})
    fork = multiprocessing.get_context("fork")
    rng, kills = random.Random(7), []
    for _ in range(5):
        proc = fork.Process(target=_run_in_child, args=(ctx,), daemon=True)
        t0 = time.time()
        proc.start()
        proc.join(rng.uniform(0.3, 2.5))
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
            kills.append(round(time.time() - t0, 2))
        proc.join()
        if (ctx.out / "model").exists():
            break
    assert len(kills) >= 3, f"the job finished before enough kills: {kills}"
    proc = fork.Process(target=_run_in_child, args=(ctx,))
    proc.start()
    proc.join()
    assert proc.exitcode == 0
    history = json.loads((ctx.out / "train_log.json").read_text())["log_history"]
    steps = [h["step"] for h in history if "loss" in h]
    assert steps == list(range(1, STEPS + 1)), (kills, steps)
    assert (ctx.out / "model" / "model.safetensors").exists()
    assert not (ctx.out / "checkpoints").exists()
