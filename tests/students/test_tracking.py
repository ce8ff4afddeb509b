"""Tracking through `report_to` (recipe `tracking:`): off by default; tensorboard writes local event files into
the stage folder; wandb is set to offline mode; the block reaches the student stages' configs."""

from __future__ import annotations

import os

import pytest

from students import tracking


def test_tensorboard_offline_writes_event_files(make_ctx, init_dir, data_dir, monkeypatch):
    from students import sft

    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", "")  # restored after the test

    job = {"name": "long", "kind": "sft", "init": {"student": "x"}, "max_steps": 2,
           "per_device_train_batch_size": 4, "max_length": 128}
    ctx = make_ctx(job, {"init": init_dir, "data": data_dir}, tracking={"report_to": "tensorboard"})
    sft.run(ctx)
    events = list((ctx.out / tracking.LOG_DIR).rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0, "tensorboard event files in <stage>/runs/"


def test_wandb_offline_and_default_off(tmp_path, monkeypatch):
    for var in ("WANDB_MODE", "WANDB_PROJECT", "WANDB_DIR"):  # restored after the test
        monkeypatch.setenv(var, "")
    assert tracking.trainer_args(None, tmp_path) == {"report_to": []}
    args = tracking.trainer_args({"report_to": "wandb", "project": "micro"}, tmp_path)
    assert args == {"report_to": ["wandb"]} and os.environ["WANDB_MODE"] == "offline"
    assert os.environ["WANDB_PROJECT"] == "micro"
    assert tracking.trainer_args({"report_to": "trackio", "project": "p"}, tmp_path) == \
        {"report_to": ["trackio"], "project": "p"}


def test_tracking_block_reaches_student_stages_only_when_on(write_recipe):
    from factory.graph import build_graph
    from factory.recipe import load_recipe
    from tests.conftest import minimal_recipe

    off = {s.name: s for s in build_graph(load_recipe(write_recipe(minimal_recipe())))}
    on = {s.name: s for s in build_graph(load_recipe(write_recipe(minimal_recipe(
        tracking={"report_to": "tensorboard"}))))}
    assert "tracking" not in off["student.long"].config, "off by default: stage hashes unchanged"
    assert on["student.long"].config["tracking"]["report_to"] == "tensorboard"
    assert on["datasets"].hash == off["datasets"].hash


@pytest.mark.parametrize("bad", [{"report_to": "mlflow"}, {"report_to": "wandb", "mode": "cloud"}])
def test_unknown_tracker_is_a_recipe_error(bad):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        tracking.TrackingConfig.model_validate(bad)
