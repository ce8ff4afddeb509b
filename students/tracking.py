"""Recipe section `tracking`: experiment tracking for the student jobs through transformers' `report_to`.

    tracking: {report_to: tensorboard}                      # event files in <stage>/runs/ (local, no account)
    tracking: {report_to: wandb, project: micro, mode: offline}   # WANDB_MODE=offline: `wandb sync` later
    tracking: {report_to: trackio, project: micro}          # trackio's local dashboard (TrainingArguments.project)

Off by default (`report_to: none`). The trainers' own integrations do the logging (transformers'
TensorBoardCallback / WandbCallback / TrackioCallback); the factory only picks one, names the project and
where local files go. The tracker package must be installed (tensorboard, wandb or trackio); credentials,
when online, come from the environment as the trackers read them (WANDB_API_KEY), never from the recipe.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field

from core.schema_base import Strict

LOG_DIR = "runs"  # inside the stage folder: the artifact keeps its training curves


class TrackingConfig(Strict):
    report_to: Literal["none", "tensorboard", "wandb", "trackio"] = "none"
    project: str | None = Field(None, description="wandb / trackio project (default: the recipe name)")
    mode: Literal["offline", "online"] = Field("offline", description="wandb: WANDB_MODE; offline needs no account")


def trainer_args(tracking: dict | None, out: Path) -> dict:
    """`report_to` for the TRL config, and the environment the chosen tracker reads (set here, in the job)."""
    cfg = TrackingConfig.model_validate(tracking or {})
    if cfg.report_to == "none":
        return {"report_to": []}
    if cfg.report_to == "tensorboard":
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(Path(out) / LOG_DIR)
    elif cfg.report_to == "wandb":
        os.environ["WANDB_MODE"] = cfg.mode
        os.environ.setdefault("WANDB_DIR", str(Path(out)))
        if cfg.project:
            os.environ["WANDB_PROJECT"] = cfg.project
    elif cfg.report_to == "trackio" and cfg.project:
        return {"report_to": ["trackio"], "project": cfg.project}  # TrainingArguments.project (trackio only)
    return {"report_to": [cfg.report_to]}
