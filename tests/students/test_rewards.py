"""Reward functions: Kimi length reward against hand-computed values (k = 1, all-equal, all wrong,
per-prompt grouping, warm-up), L1, ThinkPrune, accuracy/format through the verifiers, the registry."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from students import rewards
from students.config import GRPOJob


def test_kimi_length_hand_computed():
    # one prompt, lengths 10, 20, 30: λ = 0.5, 0.0, -0.5
    assert rewards.kimi_length_values([10, 20, 30], [True, True, True], ["a"] * 3) == [0.5, 0.0, -0.5]
    # wrong answers get min(0, λ): the short wrong one gets 0, not +0.5
    assert rewards.kimi_length_values([10, 20, 30], [False, True, False], ["a"] * 3) == [0.0, 0.0, -0.5]
    # all wrong
    assert rewards.kimi_length_values([10, 15, 30], [False] * 3, ["a"] * 3) == [0.0, 0.0, -0.5]
    # k = 1 and all-equal lengths: 0 for all
    assert rewards.kimi_length_values([42], [True], ["a"]) == [0.0]
    assert rewards.kimi_length_values([7, 7, 7], [True, False, True], ["a"] * 3) == [0.0, 0.0, 0.0]


def test_kimi_length_is_per_prompt_not_batch_wide():
    # prompt a: lengths 10, 30; prompt b: 100, 200. Batch-wide min/max (open-r1) would give b's 100 a penalty.
    got = rewards.kimi_length_values([10, 30, 100, 200], [True] * 4, ["a", "a", "b", "b"])
    assert got == [0.5, -0.5, 0.5, -0.5]


def _kwargs(n_per_prompt=3, answers=("3", "3", "4"), step=10):
    completions = [f"<think>{'x ' * (i * 5 + 1)}</think>{a}" for i, a in enumerate(answers)]
    return completions, dict(
        prompts=[[{"role": "user", "content": "What is 1 + 2?"}]] * n_per_prompt,
        completion_ids=[[0] * (i * 10 + 10) for i in range(n_per_prompt)],
        gold=["3"] * n_per_prompt, task=["math"] * n_per_prompt, metadata=["{}"] * n_per_prompt,
        prompt_id=["p"] * n_per_prompt, trainer_state=SimpleNamespace(global_step=step))


def _grpo(**kw):
    return GRPOJob.model_validate({"name": "rl", "kind": "grpo", "init": {"student": "long"}} | kw)


def test_kimi_reward_uses_the_verifier_and_warms_up():
    completions, kw = _kwargs()
    func = rewards.make_kimi_length(_grpo(length_warmup_steps=5))
    # lengths 10, 20, 30 tokens; the third answer (4) is wrong
    assert func(completions, **kw) == [0.5, 0.0, -0.5]
    kw["trainer_state"] = SimpleNamespace(global_step=2)
    assert func(completions, **kw) == [0.0, 0.0, 0.0], "length penalty is off during the warm-up"


def test_accuracy_format_target_and_token_limit():
    completions, kw = _kwargs()
    assert rewards.accuracy_reward(completions, **kw) == [1.0, 1.0, 0.0]
    assert rewards.format_reward(completions + ["no think tags"], **kw) == [1.0, 1.0, 1.0, 0.0]
    l1 = rewards.make_target_length(_grpo(target_length=20))(completions, **kw)
    assert l1 == pytest.approx([1 - 3e-4 * 10, 1.0, 0 - 3e-4 * 10])
    prune = rewards.make_token_limit(_grpo(token_limit=15))(completions, **kw)
    assert prune == [1.0, 0.0, 0.0]
    assert rewards.language_reward(["<think>two plus one</think>3"], **kw)[0] == 1.0


def test_registry_weights_and_errors():
    funcs, weights = rewards.get_reward_funcs(_grpo(rewards=[{"name": "accuracy", "weight": 2.0},
                                                             {"name": "kimi_length"}]))
    assert [f.__name__ for f in funcs] == ["accuracy_reward", "kimi_length_reward"] and weights == [2.0, 1.0]
    with pytest.raises(ValueError, match="reward 'target_length' needs `target_length`"):
        _grpo(rewards=[{"name": "target_length"}])  # caught by `factory validate`, before any training
    with pytest.raises(ValueError, match="needs job.target_length"):
        rewards.get_reward_funcs(SimpleNamespace(rewards=[SimpleNamespace(name="target_length", weight=1.0)]))
    with pytest.raises(ValueError, match="Input should be 'accuracy', 'format'"):
        _grpo(rewards=[{"name": "brevity"}])  # the recipe's names come from the reward registry
    job = SimpleNamespace(rewards=[SimpleNamespace(name="brevity", weight=1.0)])
    with pytest.raises(ValueError, match="unknown reward 'brevity'"):
        rewards.get_reward_funcs(job)
