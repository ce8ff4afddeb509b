"""Stage kind `simpo`: SimPO (Meng et al. 2024), reference-free length-normalised preference optimisation.

    -log σ(β/|y_c|·log π_c − β/|y_r|·log π_r − γ)

TRL 1.16 has SimPO in `trl.experimental.cpo.CPOTrainer` (`loss_type="simpo"`), not in DPOConfig. The job's
`trl:` block takes any CPOConfig field: `beta`, `simpo_gamma` (γ/β, as in TRL), `cpo_alpha` (NLL on the chosen
answer; 0 = plain SimPO, the factory's default where CPOConfig's is 1.0). Sky-T1-Flash: lr 5e-7, β = 2.0,
γ/β ≈ 0.3 on ~10k pairs gave −33 % tokens on MATH500 at equal accuracy. Pairs: students/dpo.py.
"""

from __future__ import annotations

from typing import Literal

from students import dpo

TRL_DEFAULTS = dict(loss_type="simpo", cpo_alpha=0.0)


class SimPOJob(dpo.PreferenceJob):
    TRL_CONFIG = "trl.experimental.cpo:CPOConfig"

    kind: Literal["simpo"]


Job = SimPOJob
stages = dpo.stages


def build_trainer(job: SimPOJob, model_path: str, dataset, out, tracking: dict | None = None):
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    return dpo.preference_trainer(job, model_path, dataset, out, CPOConfig, CPOTrainer, TRL_DEFAULTS, tracking)


def run(ctx) -> dict:
    return dpo.run_pairs(ctx, SimPOJob, build_trainer)


def estimate(recipe, stage, job: SimPOJob, hw, E):
    return dpo.estimate(recipe, stage, job, hw, E, flops_per_param_token=6.0)  # no reference model
