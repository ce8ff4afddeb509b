"""Stage `dpo`: preference optimisation toward short correct answers (Kimi k1.5 long2short DPO, SimPO).

Pairs come from the `pairs` dataset (`prompt`, `chosen`, `rejected` conversational; `pair_kind`):
- Kimi k1.5 (2025, sec. 2.4 "long2short"): chosen = shortest correct sample; rejected = incorrect
  samples and correct ones >= 1.5x longer than chosen (`pair_kind == "kimi"`).
- Sky-T1-Flash (NovaSky 2025) adds long-correct (chosen) vs short-incorrect (rejected) so the model does
  not learn "short at any cost" (`pair_kind == "flash"`).

Kinds (one module each; pairs and the run loop live here):
- `dpo` (this module): DPO (Rafailov et al. 2023), `-log σ(β·[(log π_c − log π_ref,c) − (log π_r − log π_ref,r)])`,
  with TRL's DPOTrainer; any DPOConfig field in `trl:` (`loss_type`, `ld_alpha`, ...). Reference model: a frozen copy of the init model (TRL makes it when
  `ref_model=None`), i.e. the SFT policy we start from.
- `simpo` (students/simpo.py): SimPO (Meng et al. 2024), reference-free, `-log σ(β/|y_c|·log π_c − β/|y_r|·log π_r − γ)`, via
  `trl.experimental.cpo.CPOTrainer(loss_type="simpo")` (not in DPOConfig in TRL 1.16);
  `simpo_gamma` is γ/β as in TRL. Sky-T1-Flash: lr 5e-7, β = 2.0, γ/β ≈ 0.3.
- `orpo` (students/orpo.py): ORPO (Hong et al. 2024), reference-free odds-ratio loss plus NLL.
- NLL on the chosen answer (RPO): `trl: {loss_type: [sigmoid, sft], loss_weights: [1.0, w]}` for DPO,
  `cpo_alpha: w` for SimPO. Without it the micro recipe's DPO lowered the chosen answers' likelihood along with the
  rejected ones' (they share most tokens) and fell from 81.6 % to 27.1 % held-out accuracy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from students import common, job_base, launch, loading, trainer_args

PAIR_COLUMNS = ["prompt", "chosen", "rejected"]


class PreferenceJob(job_base.TrainJob):
    """Fields every pair-trained kind shares: which pairs, how long a sequence may be."""

    data: Literal["pairs"] = "pairs"
    pair_kinds: list[Literal["kimi", "flash"]] = Field(default_factory=lambda: ["kimi", "flash"], min_length=1)
    max_length: int = Field(2048, gt=0)


class DPOJob(PreferenceJob):
    TRL_CONFIG = "trl:DPOConfig"

    kind: Literal["dpo"]


Job = DPOJob


def stages(job, wiring):
    return job_base.train_stages(job, wiring, ("data",))


def select_pairs(dataset, job: PreferenceJob):
    """Keep the pair kinds the job asks for; an empty result is a one-line error naming the dataset."""
    missing = [c for c in PAIR_COLUMNS if c not in dataset.column_names]
    if missing:
        raise ValueError(f"dataset '{job.data}' lacks column(s) {missing} (has {dataset.column_names})")
    if "pair_kind" in dataset.column_names:
        kinds = set(job.pair_kinds)
        dataset = dataset.filter(lambda kind: kind in kinds, input_columns="pair_kind")
    if len(dataset) == 0:
        raise ValueError(f"dataset '{job.data}' has no pairs of kind {job.pair_kinds}")
    return dataset.select_columns(PAIR_COLUMNS)


def preference_trainer(job: PreferenceJob, model_path: str, dataset, out, config_cls, trainer_cls,
                       defaults: dict | None = None, tracking: dict | None = None, **trainer_kwargs):
    """Any pair trainer of TRL (DPO, CPO/SimPO, ORPO) with the shared arguments and the job's `trl:` block."""
    args = trainer_args.common_args(job, out, defaults=defaults, tracking=tracking) | dict(max_length=job.max_length)
    config = config_cls(**args)  # before the weights: ZeRO-3 / FSDP load partitioned (students/loading.py)
    tokenizer, model = loading.load_for_training(model_path, job, config)
    return trainer_cls(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                       **trainer_kwargs), tokenizer


def build_trainer(job: DPOJob, model_path: str, dataset, out, tracking: dict | None = None):
    """DPOTrainer; the reference model is a frozen copy of the init model (TRL makes it: ref_model=None)."""
    from trl import DPOConfig, DPOTrainer

    return preference_trainer(job, model_path, dataset, out, DPOConfig, DPOTrainer, tracking=tracking,
                              ref_model=None)


def margins(trainer) -> list[float]:
    """The logged chosen-minus-rejected reward margins, one per logging step."""
    return [h["rewards/margins"] for h in trainer.state.log_history if "rewards/margins" in h]


def run_pairs(ctx, job_cls, build) -> dict:
    """The run loop of every pair kind: pairs -> trainer -> train (resumable) -> artifact + margins."""
    job = job_cls.model_validate(ctx.config["job"])
    if launch.should_launch(job):
        return launch.launch(ctx, job)
    dataset = select_pairs(common.load_split(ctx, job.data), job)
    trainer, tokenizer = build(job, common.resolve_init(ctx, job), dataset, ctx.out, ctx.config.get("tracking"))
    result, wall_s = common.train(trainer, ctx.out, ctx)
    history = margins(trainer)
    common.save_final(trainer, tokenizer, ctx.out)
    return common.summary(trainer, result, wall_s, "loss") | {
        "pairs": len(dataset), "loss_type": getattr(trainer.args, "loss_type", job.kind),
        "beta": getattr(trainer.args, "beta", None),
        "first_margin": history[0] if history else None, "final_margin": history[-1] if history else None}


def run(ctx) -> dict:
    return run_pairs(ctx, DPOJob, build_trainer)


def estimate(recipe, stage, job: PreferenceJob, hw, E, flops_per_param_token: float = 8.0):
    """Pairs × (chosen + rejected) tokens; sigmoid DPO also runs the reference model forward (+2N per token)."""
    completion = E._completion_tokens(recipe, hw)
    examples = E.train_prompts(recipe) * min(recipe.datasets.pairs.max_pairs_per_prompt, recipe.generation.n - 1)
    per_example = 2 * min(E._prompt_tokens(completion) + completion, job.max_length)
    return E.trained(recipe, stage, job, hw, examples, per_example, flops_per_param_token, "pairs")
