"""Shortest rejection sampling, the Kimi k1.5 long2short rule (Kimi Team 2025, "Kimi k1.5", sec. 2.4).

Kimi samples a prompt n times (n = 8) and keeps "the shortest correct response" as an SFT target. Here:
per prompt, the correct sample (samples.is_correct) with the fewest teacher tokens (`completion_tokens`),
ties broken by the lower sample_idx. A prompt with no correct sample adds nothing (`no_correct`).
Same TRL conversational `messages` format as the R1 SFT set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from factory.data.rejection import FEATURES
from factory.data.samples import PromptGroup, assistant_message, shortest_first, tokens, user_message

RULE = "Kimi shortest rejection sampling: the shortest correct of n samples per prompt, by token count"
CITATION = "Kimi Team (2025), Kimi k1.5: Scaling Reinforcement Learning with LLMs, sec. 2.4 (long2short)"
DROP_KEYS = ("no_correct",)
__all__ = ["FEATURES", "rows_for_prompt", "build"]


def rows_for_prompt(group: PromptGroup, drops: Counter) -> list[dict]:
    correct = group.correct
    if not correct:
        drops["no_correct"] += 1
        return []
    best = shortest_first(correct)[0]
    return [{"messages": [user_message(group.text), assistant_message(best)], "prompt_id": group.prompt_id,
             "sample_idx": best["sample_idx"], "completion_tokens": tokens(best),
             "task": group.prompt.get("task", "")}]


def build(groups: Iterable[PromptGroup], drops: Counter) -> Iterator[dict]:
    for group in groups:
        yield from rows_for_prompt(group, drops)
