"""GRPO job: on a toy task the mean reward rises; the named rewards are wired in (prompt_id,
completion_ids, trainer_state reach them); r1_zero prompts; group-size error."""

from __future__ import annotations

import json

import pytest

from students import grpo, rewards
from students.config import GRPOJob


def even_token_share(completions, completion_ids, **kwargs) -> list[float]:
    """Toy task a random-init model can learn in a few steps: the share of even token ids."""
    return [sum(1 for t in ids if t % 2 == 0) / max(len(ids), 1) for ids in completion_ids]


def _job(**kw) -> dict:
    return {"name": "rl", "kind": "grpo", "init": {"student": "long"}, "max_steps": 10, "per_device_train_batch_size": 8,
            "num_generations": 4, "max_completion_length": 12, "learning_rate": 3e-2,
            "rewards": [{"name": "format", "weight": 1.0}, {"name": "kimi_length", "weight": 0.0}]} | kw


@pytest.mark.slow
def test_grpo_raises_mean_reward_on_a_toy_task(make_ctx, init_dir, data_dir, monkeypatch):
    monkeypatch.setitem(rewards.REWARDS, "format", lambda job, tokenizer=None: even_token_share)
    ctx = make_ctx(_job(), {"init": init_dir, "data": data_dir})
    summary = grpo.run(ctx)
    assert summary["rollouts"] == "transformers" and summary["steps"] == 10
    history = json.loads((ctx.out / "train_log.json").read_text())["reward_history"]
    assert sum(history[-3:]) / 3 > sum(history[:3]) / 3 + 0.1, history
    log = json.loads((ctx.out / "train_log.json").read_text())["log_history"]
    assert any("rewards/kimi_length_reward/mean" in h for h in log), "the Kimi reward ran on the rollouts"
    assert (ctx.out / "model" / "model.safetensors").exists()


def test_r1_zero_prompt_and_group_size_error(data_dir):
    from datasets import load_from_disk

    job = GRPOJob.model_validate(_job(r1_zero=True))
    pool = grpo.prepare_pool(load_from_disk(str(data_dir / "rl_pool")), job)
    assert isinstance(pool[0]["prompt"], str)
    assert pool[0]["prompt"].startswith("A conversation between User and Assistant")
    assert "User: What is 1 + 2?\nAssistant: <think>" in pool[0]["prompt"]
    with pytest.raises(ValueError, match="must be a multiple of num_generations = 4"):
        grpo.check_group_size(GRPOJob.model_validate(_job(per_device_train_batch_size=6)))


def test_grpo_token_budget_counts_prompts_and_sampled_completions(make_ctx, init_dir, data_dir):
    ctx = make_ctx(_job(max_steps=10, token_budget=1), {"init": init_dir, "data": data_dir})
    summary = grpo.run(ctx)
    assert summary["steps"] == 1, "a budget of 1 token stops after the first step"
    assert summary["train_tokens"] > 8, "prompt and completion tokens of the 8 rollouts are counted"


def test_grpo_on_raw_prompts_reads_the_prompts_stage(make_ctx, init_dir, tmp_path):
    """`data: prompts` trains on every train prompt of the prompts stage, with no datasets input at all."""
    from core.atomic import write_jsonl

    prompts = tmp_path / "prompts"
    write_jsonl(prompts / "train.jsonl", [
        {"prompt": f"What is {i} + 1?", "gold": str(i + 1), "task": "procedural:basic_arithmetic",
         "prompt_id": f"q{i}", "metadata": {"source_dataset": "basic_arithmetic"}, "split": "train"}
        for i in range(6)])
    ctx = make_ctx(_job(data="prompts", max_steps=1), {"init": init_dir, "prompts": prompts})
    summary = grpo.run(ctx)
    assert summary["prompts"] == 6 and summary["steps"] == 1
    pool = grpo.prepare_pool(grpo.common.load_pool(ctx, "prompts"), GRPOJob.model_validate(_job(data="prompts")))
    assert pool[0]["prompt"] == [{"role": "user", "content": "What is 0 + 1?"}] and pool[0]["gold"] == "1"
    assert json.loads(pool[0]["metadata"]) == {"source_dataset": "basic_arithmetic"}
