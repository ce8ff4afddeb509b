"""Stage kind `orpo`: ORPO (Hong et al. 2024, "ORPO: Monolithic Preference Optimization without Reference
Model") — NLL on the chosen answer plus λ·log-odds-ratio of chosen over rejected, no reference model.

TRL 1.16: `trl.experimental.orpo.ORPOTrainer` / `ORPOConfig`; the job's `trl:` block takes any ORPOConfig
field (`beta` is ORPO's λ, 0.1 by default). Pairs and the run loop: students/dpo.py.
"""

from __future__ import annotations

from typing import Literal

from students import dpo


class ORPOJob(dpo.PreferenceJob):
    TRL_CONFIG = "trl.experimental.orpo:ORPOConfig"

    kind: Literal["orpo"]


Job = ORPOJob
stages = dpo.stages


def build_trainer(job: ORPOJob, model_path: str, dataset, out, tracking: dict | None = None):
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    return dpo.preference_trainer(job, model_path, dataset, out, ORPOConfig, ORPOTrainer, tracking=tracking)


def run(ctx) -> dict:
    return dpo.run_pairs(ctx, ORPOJob, build_trainer)


def estimate(recipe, stage, job: ORPOJob, hw, E):
    return dpo.estimate(recipe, stage, job, hw, E, flops_per_param_token=6.0)  # no reference model
