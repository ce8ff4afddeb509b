"""DLER-style length RL: the preset reaches GRPOConfig; dynamic sampling gives all-equal-reward groups zero
weight in the token-mean loss (and recounts its normaliser); a DLER job trains end to end."""

from __future__ import annotations

import json

import pytest
import torch

from students import dynamic_sampling as ds
from students import grpo, rewards


def _job(**kw) -> dict:
    return {"name": "dler", "kind": "grpo", "init": {"student": "long"}, "preset": "dler", "max_steps": 2,
            "per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 12,
            "learning_rate": 1e-3, "token_limit": 12, "rewards": [{"name": "accuracy"}, {"name": "token_limit"}]} | kw


def test_dler_preset_reaches_the_trl_config(tmp_path):
    job = grpo.GRPOJob.model_validate(_job())
    args = grpo.grpo_config(job, tmp_path)
    assert (args.scale_rewards, args.epsilon_high, args.loss_type, args.mask_truncated_completions) == \
        ("batch", 0.28, "dapo", True)
    assert job.drops_equal_groups
    own = grpo.GRPOJob.model_validate(_job(trl={"epsilon_high": 0.3}, dynamic_sampling=False))
    assert grpo.grpo_config(own, tmp_path).epsilon_high == 0.3 and not own.drops_equal_groups, "trl: wins"
    assert not grpo.GRPOJob.model_validate(_job(preset=None)).drops_equal_groups


def test_all_equal_groups_get_zero_weight_in_the_loss():
    # two prompts × 3 samples: the first group is informative, the second all correct (equal rewards)
    rewards_ = torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    keep = ds.informative(rewards_, 3)
    assert keep.tolist() == [True, True, True, False, False, False]
    assert ds.informative(torch.tensor([0.1 + 0.2, 0.3, float("nan")]), 3).tolist() == [False] * 3
    mask = torch.ones(6, 5, dtype=torch.int)
    out = ds.drop_equal_groups({"completion_mask": mask, "num_items_in_batch": mask.sum()}, keep)
    assert out["completion_mask"][3:].sum() == 0 and out["completion_mask"][:3].sum() == 15
    assert out["num_items_in_batch"] == 15, "the token-mean normaliser counts only the informative groups"
    # the loss TRL computes from these (dapo: sum(per_token_loss * mask) / num_items_in_batch)
    per_token = torch.randn(6, 5)
    dropped = (per_token * out["completion_mask"]).sum() / out["num_items_in_batch"]
    assert dropped == pytest.approx((per_token[:3]).sum().item() / 15)


@pytest.mark.slow
def test_dler_job_trains_and_logs_the_dropped_share(make_ctx, init_dir, data_dir, monkeypatch):
    """A reward that is the same for every completion: every group is dropped, so the policy does not move."""
    def always_right(completions, **kwargs):
        return [1.0] * len(completions)

    def never_cut(completions, **kwargs):
        return [0.0] * len(completions)

    monkeypatch.setitem(rewards.REWARDS, "accuracy", lambda job, tokenizer=None: always_right)
    monkeypatch.setitem(rewards.REWARDS, "token_limit", lambda job, tokenizer=None: never_cut)
    ctx = make_ctx(_job(), {"init": init_dir, "data": data_dir})
    summary = grpo.run(ctx)
    assert summary["steps"] == 2 and summary["dynamic_sampling"] is True
    log = json.loads((ctx.out / "train_log.json").read_text())["log_history"]
    dropped = [h["dynamic_sampling/dropped_groups"] for h in log if "dynamic_sampling/dropped_groups" in h]
    assert dropped and all(d == 1.0 for d in dropped)
    from safetensors.torch import load_file

    before, after = load_file(str(init_dir / "model" / "model.safetensors")), \
        load_file(str(ctx.out / "model" / "model.safetensors"))
    assert all(torch.equal(before[k], after[k]) for k in before), "no informative group: no update"
