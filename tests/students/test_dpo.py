"""DPO / SimPO jobs: the chosen-minus-rejected reward margin rises; pair-kind filtering; empty set error."""

from __future__ import annotations

import pytest

from students import dpo


def _job(**kw) -> dict:
    return {"name": "dpo", "kind": "dpo", "init": {"student": "long"}, "max_steps": 8,
            "per_device_train_batch_size": 4, "learning_rate": 2e-3, "max_length": 128, "trl": {"beta": 0.5}} | kw


@pytest.mark.parametrize("kind", ["dpo", "simpo", "orpo"])
def test_reward_margin_rises(make_ctx, init_dir, data_dir, kind):
    """DPO, SimPO (CPOTrainer) and ORPO (the kind added through the registry alone) train on the same pairs."""
    from students import kinds

    ctx = make_ctx(_job(kind=kind), {"init": init_dir, "data": data_dir})
    summary = kinds.module(kind).run(ctx)
    assert summary["pairs"] == 8 and summary["steps"] == 8
    assert summary["final_margin"] > summary["first_margin"] + 0.1, summary
    assert (ctx.out / "model" / "model.safetensors").exists() and (ctx.out / "train_log.json").exists()


def test_pair_kinds_filter_and_empty_set_error(data_dir):
    from datasets import load_from_disk

    from students.config import DPOJob

    pairs = load_from_disk(str(data_dir / "pairs"))
    kept = dpo.select_pairs(pairs, DPOJob.model_validate(_job(pair_kinds=["kimi"])))
    assert len(kept) == 4 and kept.column_names == ["prompt", "chosen", "rejected"]
    only_flash = pairs.filter(lambda k: k == "flash", input_columns="pair_kind")
    with pytest.raises(ValueError, match="dataset 'pairs' has no pairs of kind \\['kimi'\\]"):
        dpo.select_pairs(only_flash, DPOJob.model_validate(_job(pair_kinds=["kimi"])))


def test_sft_weight_keeps_the_chosen_answers_likely(make_ctx, init_dir, data_dir, tmp_path):
    """RPO: NLL on the chosen answer stops DPO from lowering it along with the rejected one."""
    import json

    def final_chosen_logp(**kw) -> float:
        ctx = make_ctx(_job(**kw), {"init": init_dir, "data": data_dir}, tmp_path / str(kw))
        dpo.run(ctx)
        log = json.loads((ctx.out / "train_log.json").read_text())["log_history"]
        return [h["logps/chosen"] for h in log if "logps/chosen" in h][-1]

    rpo = {"beta": 0.5, "loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 1.0]}
    assert final_chosen_logp(trl=rpo) > final_chosen_logp() + 1.0
