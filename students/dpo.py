"""Stage `dpo`: preference optimisation toward short correct answers (Kimi k1.5 long2short DPO, SimPO).

Pairs come from the `pairs` dataset (`prompt`, `chosen`, `rejected` conversational; `pair_kind`):
- Kimi k1.5 (2025, sec. 2.4 "long2short"): chosen = shortest correct sample; rejected = incorrect
  samples and correct ones >= 1.5x longer than chosen (`pair_kind == "kimi"`).
- Sky-T1-Flash (NovaSky 2025) adds long-correct (chosen) vs short-incorrect (rejected) so the model does
  not learn "short at any cost" (`pair_kind == "flash"`).

Losses:
- `sigmoid`: DPO (Rafailov et al. 2023), `-log σ(β·[(log π_c − log π_ref,c) − (log π_r − log π_ref,r)])`,
  with TRL's DPOTrainer. Reference model: a frozen copy of the init model (TRL makes it when
  `ref_model=None`), i.e. the SFT policy we start from.
- `simpo`: SimPO (Meng et al. 2024), reference-free, `-log σ(β/|y_c|·log π_c − β/|y_r|·log π_r − γ)`, via
  `trl.experimental.cpo.CPOTrainer(loss_type="simpo")` (not in DPOConfig in TRL 1.16);
  `simpo_gamma` in the job is γ/β as in TRL. Sky-T1-Flash: lr 5e-7, β = 2.0, γ/β ≈ 0.3.
- `sft_weight` > 0 adds NLL on the chosen answer (RPO; TRL `loss_type=["sigmoid", "sft"]`, CPO's
  `cpo_alpha`). Without it the micro recipe's DPO lowered the chosen answers' likelihood along with the
  rejected ones' (they share most tokens) and fell from 81.6 % to 27.1 % held-out accuracy.
"""

from __future__ import annotations

from students import common, launch, loading
from students.config import DPOJob

PAIR_COLUMNS = ["prompt", "chosen", "rejected"]


def select_pairs(dataset, job: DPOJob):
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


def build_trainer(job: DPOJob, model_path: str, dataset, out):
    """DPOTrainer (sigmoid) or CPOTrainer (SimPO) with the shared trainer arguments."""
    args = common.common_args(job, out) | dict(max_length=job.max_length, beta=job.beta)
    if job.loss == "simpo":
        from trl.experimental.cpo import CPOConfig, CPOTrainer

        config = CPOConfig(**args, loss_type="simpo", cpo_alpha=job.sft_weight, simpo_gamma=job.simpo_gamma)
        tokenizer, model = loading.load_for_training(model_path, job, config)  # config first: ZeRO-3 partitions
        return CPOTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer), tokenizer
    from trl import DPOConfig, DPOTrainer

    losses = dict(loss_type=["sigmoid", "sft"], loss_weights=[1.0, job.sft_weight]) if job.sft_weight else \
        dict(loss_type=["sigmoid"])
    config = DPOConfig(**args, **losses)
    tokenizer, model = loading.load_for_training(model_path, job, config)  # config first: ZeRO-3 partitions
    return DPOTrainer(model=model, ref_model=None, args=config, train_dataset=dataset,
                      processing_class=tokenizer), tokenizer


def margins(trainer) -> list[float]:
    """The logged chosen-minus-rejected reward margins, one per logging step."""
    return [h["rewards/margins"] for h in trainer.state.log_history if "rewards/margins" in h]


def run(ctx) -> dict:
    job = DPOJob.model_validate(ctx.config["job"])
    if launch.should_launch(job):
        return launch.launch(ctx, job)
    dataset = select_pairs(common.load_split(ctx, job.data), job)
    trainer, tokenizer = build_trainer(job, common.resolve_init(ctx, job), dataset, ctx.out)
    result, wall_s = common.train(trainer, ctx.out, ctx)
    history = margins(trainer)
    common.save_final(trainer, tokenizer, ctx.out)
    return common.summary(trainer, result, wall_s, "loss") | {
        "pairs": len(dataset), "loss_type": job.loss, "beta": job.beta,
        "first_margin": history[0] if history else None, "final_margin": history[-1] if history else None}
