"""A killed SFT run resumes from its checkpoint; an SFT job runs under 2 CPU processes (gloo, DDP config)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time

import pytest

from students import sft


def _job(**kw) -> dict:
    return {"name": "long", "kind": "sft", "init": {"tiny": {}}, "per_device_train_batch_size": 2, "learning_rate": 1e-3} | kw


def _run_in_child(ctx) -> None:
    import torch

    torch.set_num_threads(1)  # OpenMP's pool does not survive fork
    sft.run(ctx)


def _wait_for_checkpoint(out, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = sorted((out / "checkpoints").glob("checkpoint-*/trainer_state.json"))
        if done:
            time.sleep(0.5)  # let the rename of the next file settle; the state file is written last
            return done[-1].parent
        if not proc.is_alive():
            pytest.fail(f"training exited early with {proc.exitcode}")
        time.sleep(0.2)
    pytest.fail("no checkpoint appeared")


@pytest.mark.slow
def test_killed_sft_run_resumes_from_its_checkpoint(make_ctx, init_dir, data_dir):
    ctx = make_ctx(_job(max_steps=400, trl={"save_steps": 2}), {"init": init_dir, "data": data_dir})
    # A forked child (imports already loaded: saves ~10 s of CPU over a fresh interpreter) runs the job.
    proc = multiprocessing.get_context("fork").Process(target=_run_in_child, args=(ctx,), daemon=True)
    proc.start()
    try:
        _wait_for_checkpoint(ctx.out, proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
    assert not (ctx.out / "model").exists()
    # The newest *complete* checkpoint (state file written last); a kill may leave a newer half-saved one,
    # which the resume must skip.
    complete = [p for p in (ctx.out / "checkpoints").glob("checkpoint-*") if (p / "trainer_state.json").exists()]
    checkpoint = max(complete, key=lambda p: int(p.name.split("-")[1]))
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    done_steps = state["global_step"]
    assert 0 < done_steps < 400

    ctx.config["job"] = _job(max_steps=done_steps + 4, trl={"save_steps": 2})
    summary = sft.run(ctx)
    assert summary["steps"] == done_steps + 4
    assert f"resuming from {checkpoint}" in (ctx.out / "stage.log").read_text()
    history = json.loads((ctx.out / "train_log.json").read_text())["log_history"]
    steps = [h["step"] for h in history if "loss" in h]
    assert steps == list(range(1, done_steps + 5)), "the resumed run continues the killed run's steps"
    first_part = [h["loss"] for h in state["log_history"] if "loss" in h]
    assert [h["loss"] for h in history if "loss" in h][:done_steps] == first_part
    assert not (ctx.out / "checkpoints").exists()


@pytest.mark.slow
def test_sft_under_two_cpu_processes(make_ctx, init_dir, data_dir):
    ctx = make_ctx(_job(max_steps=3, launch="ddp", num_processes=2), {"init": init_dir, "data": data_dir})
    summary = sft.run(ctx)
    assert summary["world_size"] == 2 and summary["steps"] == 3
    assert "--num_processes 2" in (ctx.out / "stage.log").read_text()
    assert (ctx.out / "model" / "model.safetensors").exists()
    single = make_ctx(_job(max_steps=3), {"init": init_dir, "data": data_dir}, out=ctx.out.parent / "single")
    one = sft.run(single)  # in-process: ~1 s
    assert summary["train_tokens"] > 1.5 * one["train_tokens"], "two processes see two batches per step"
