"""Rule-based reward functions for TRL's GRPOTrainer, and the registry `get_reward_funcs(job)`.

Every function has TRL's signature `f(completions, **kwargs) -> list[float]`; dataset columns of the
`rl_pool` (`prompt_id`, `gold`, `task`, `metadata`) arrive as kwargs, together with `prompts`,
`completion_ids` (token ids of each completion) and `trainer_state`. Lengths are in *tokens* of the
student's tokenizer (len(completion_ids)).

Rewards (formulas; the papers they come from):
- accuracy — DeepSeek-R1 (2025) §2.2.2: 1 if `eval.verifiers.judge` says correct, else 0 (None → 0).
- format — R1: 1 if the completion is `<think>reasoning</think>answer` with a non-empty answer, else 0.
- language — R1 §2.3.3 language-consistency reward: the share of the reasoning's letters written in the
  prompt's script (`eval.verifiers.language_share`).
- kimi_length — Kimi k1.5 (2025) §2.3.3 length penalty. For the k completions of ONE prompt (grouped
  by the `prompt_id` kwarg), with token lengths len_i:
      λ_i = 0.5 − (len_i − min_len) / (max_len − min_len)
      r_i = λ_i if correct_i else min(0, λ_i);   r_i = 0 for all i when max_len == min_len (k = 1 too).
  Min and max are per prompt — open-r1's `len_reward` takes them over the whole batch, which compares
  lengths across unrelated prompts; we do not. Kimi warms up: the reward is 0 for the first
  `job.length_warmup_steps` optimizer steps (read from the `trainer_state` kwarg).
- target_length — L1 / LCPO (Aggarwal & Welleck 2025): r = correct − α·|target − len|, α = 3e-4; the
  target is the row's `target_length` column when present, else `job.target_length`.
- token_limit — ThinkPrune (Hou et al. 2025): r = correct if the completion finished (has `</think>`
  and an answer) within `job.token_limit` tokens, else 0. Run rounds with a shrinking limit.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Callable

L1_ALPHA = 3e-4

RewardFunc = Callable[..., list[float]]


# ---------------------------------------------------------------- helpers
def completion_text(completion) -> str:
    """A completion in TRL's standard (str) or conversational ([{"role", "content"}]) form, as text."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content", "") for m in completion if m.get("role", "assistant") == "assistant")


def prompt_text(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n".join(m.get("content", "") for m in prompt if m.get("role") == "user")


def token_lengths(completions, completion_ids=None, tokenizer=None, **_) -> list[int]:
    """Completion lengths in tokens: from TRL's `completion_ids`, else by tokenizing the text."""
    if completion_ids is not None:
        return [len(ids) for ids in completion_ids]
    if tokenizer is None:
        raise ValueError("length rewards need completion_ids or a tokenizer")
    return [len(tokenizer(completion_text(c), add_special_tokens=False)["input_ids"]) for c in completions]


@lru_cache(maxsize=4096)
def _judge_cached(text: str, prompt: str, gold: str, task: str, metadata: str) -> bool:
    from eval.verifiers import judge

    meta = json.loads(metadata) if metadata else {}
    verdict = judge(text, {"prompt": prompt, "gold": gold, "task": task, "metadata": meta})
    return verdict.get("correct") is True


def correctness(completions, **kwargs) -> list[bool]:
    """Judge each completion against its row (`gold`, `task`, `metadata`); cached across reward funcs."""
    n = len(completions)
    prompts = kwargs.get("prompts") or kwargs.get("prompt") or [""] * n
    golds, tasks = kwargs.get("gold"), kwargs.get("task")
    if golds is None or tasks is None:
        raise ValueError("accuracy-based rewards need the dataset columns 'gold' and 'task'")
    metas = kwargs.get("metadata") or [None] * n
    return [_judge_cached(completion_text(c), prompt_text(p), str(g), str(t),
                          m if isinstance(m, str) or m is None else json.dumps(m))
            for c, p, g, t, m in zip(completions, prompts, golds, tasks, metas)]


# ---------------------------------------------------------------- pure formulas
def kimi_length_values(lengths: list[int], correct: list[bool], groups: list) -> list[float]:
    """Kimi k1.5 length reward per prompt group (see the module docstring for the formula)."""
    by_group: dict = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    rewards = [0.0] * len(lengths)
    for members in by_group.values():
        lo, hi = min(lengths[i] for i in members), max(lengths[i] for i in members)
        if hi == lo:
            continue
        for i in members:
            lam = 0.5 - (lengths[i] - lo) / (hi - lo)
            rewards[i] = lam if correct[i] else min(0.0, lam)
    return rewards


def target_length_values(lengths: list[int], correct: list[bool], targets: list[int],
                         alpha: float = L1_ALPHA) -> list[float]:
    """L1/LCPO: correct − α·|target − len|."""
    return [float(c) - alpha * abs(t - n) for n, c, t in zip(lengths, correct, targets)]


def token_limit_values(lengths: list[int], correct: list[bool], finished: list[bool], limit: int) -> list[float]:
    """ThinkPrune: the accuracy reward, but 0 for a completion not finished within `limit` tokens."""
    return [float(c) if f and n <= limit else 0.0 for n, c, f in zip(lengths, correct, finished)]


# ---------------------------------------------------------------- the reward functions
def accuracy_reward(completions, **kwargs) -> list[float]:
    return [float(c) for c in correctness(completions, **kwargs)]


def format_reward(completions, **kwargs) -> list[float]:
    from eval.verifiers import split_think

    return [float(split_think(completion_text(c)).format_ok) for c in completions]


def language_reward(completions, **kwargs) -> list[float]:
    from eval.verifiers import language_share, split_think

    prompts = kwargs.get("prompts") or kwargs.get("prompt") or [""] * len(completions)
    return [float(language_share(split_think(completion_text(c)).reasoning, prompt_text(p)))
            for c, p in zip(completions, prompts)]


def make_kimi_length(job, tokenizer=None) -> RewardFunc:
    warmup = getattr(job, "length_warmup_steps", 0)

    def kimi_length_reward(completions, **kwargs) -> list[float]:
        state = kwargs.get("trainer_state")
        if state is not None and state.global_step < warmup:
            return [0.0] * len(completions)
        groups = kwargs.get("prompt_id")
        if groups is None:
            raise ValueError("kimi_length needs the dataset column 'prompt_id' to group completions per prompt")
        lengths = token_lengths(completions, kwargs.get("completion_ids"), tokenizer)
        return kimi_length_values(lengths, correctness(completions, **kwargs), groups)

    return kimi_length_reward


def make_target_length(job, tokenizer=None) -> RewardFunc:
    default = getattr(job, "target_length", None)

    def target_length_reward(completions, **kwargs) -> list[float]:
        targets = kwargs.get("target_length") or [default] * len(completions)
        if any(t is None for t in targets):
            raise ValueError("target_length reward needs job.target_length or a 'target_length' column")
        lengths = token_lengths(completions, kwargs.get("completion_ids"), tokenizer)
        return target_length_values(lengths, correctness(completions, **kwargs), [int(t) for t in targets])

    if default is None:
        raise ValueError("reward 'target_length' needs job.target_length (L1/LCPO target tokens)")
    return target_length_reward


def make_token_limit(job, tokenizer=None) -> RewardFunc:
    limit = getattr(job, "token_limit", None)
    if limit is None:
        raise ValueError("reward 'token_limit' needs job.token_limit (ThinkPrune)")

    def token_limit_reward(completions, **kwargs) -> list[float]:
        from eval.verifiers import split_think

        lengths = token_lengths(completions, kwargs.get("completion_ids"), tokenizer)
        finished = [not split_think(completion_text(c)).truncated for c in completions]
        return token_limit_values(lengths, correctness(completions, **kwargs), finished, limit)

    return token_limit_reward


def _plain(func: RewardFunc) -> Callable:
    return lambda job, tokenizer=None: func


REWARDS: dict[str, Callable] = {
    "accuracy": _plain(accuracy_reward),
    "format": _plain(format_reward),
    "language": _plain(language_reward),
    "kimi_length": make_kimi_length,
    "target_length": make_target_length,
    "token_limit": make_token_limit,
}


def get_reward_funcs(job, tokenizer=None) -> tuple[list[RewardFunc], list[float]]:
    """The reward functions and weights a GRPO job names; an unknown name is a clear error."""
    funcs, weights = [], []
    for reward in job.rewards:
        if reward.name not in REWARDS:
            raise ValueError(f"unknown reward '{reward.name}' (known: {', '.join(sorted(REWARDS))})")
        funcs.append(REWARDS[reward.name](job, tokenizer))
        weights.append(reward.weight)
    return funcs, weights
