"""Preference pairs for DPO / SimPO: the Kimi k1.5 long2short rule and the Sky-T1-Flash addition.

- `kimi` (Kimi Team 2025, "Kimi k1.5", sec. 2.4, long2short DPO): chosen = the shortest correct sample;
  rejected = every incorrect sample, and every correct sample at least `length_ratio` (1.5) times longer
  than the chosen one (in teacher tokens). Rejected candidates are taken longest first (ties: lower
  sample_idx), so a small cap keeps the pairs with the most length to cut.
- `flash` (NovaSky 2025, "Think Less, Achieve More: Sky-T1-Flash"): long-correct chosen vs short-incorrect
  rejected, so the student does not learn "short at any cost". For each incorrect sample that is shorter
  than some correct one (shortest first), chosen = the shortest correct sample longer than it.
The cap `max_pairs_per_prompt` applies per kind, so adding `flash` never crowds out `kimi` pairs.
Rows are TRL conversational preference data: `prompt` [user], `chosen` [assistant], `rejected`
[assistant], plus `pair_kind` ("kimi" | "flash") so a DPO job can filter, and both lengths.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from datasets import Features, Value

from factory.data.config import PairsConfig
from factory.data.rejection import MESSAGES
from factory.data.samples import PromptGroup, assistant_message, shortest_first, tokens, user_message

RULE = ("Kimi long2short pairs (chosen = shortest correct; rejected = incorrect, or correct >= length_ratio x "
        "longer) and Sky-T1-Flash pairs (long correct chosen vs short incorrect rejected)")
CITATION = ("Kimi Team (2025), Kimi k1.5, sec. 2.4; NovaSky Team (2025), Think Less, Achieve More: "
            "Cut Reasoning Costs by 50% Without Sacrificing Accuracy (Sky-T1-Flash)")
FEATURES = Features({"prompt": MESSAGES, "chosen": MESSAGES, "rejected": MESSAGES, "pair_kind": Value("string"),
                     "prompt_id": Value("string"), "chosen_tokens": Value("int64"),
                     "rejected_tokens": Value("int64")})
DROP_KEYS = ("no_correct", "kimi_no_rejected", "kimi_over_cap", "flash_no_short_incorrect", "flash_over_cap")


def longest_first(samples: Iterable[dict]) -> list[dict]:
    return sorted(samples, key=lambda s: (-tokens(s), s["sample_idx"]))


def kimi_pairs(group: PromptGroup, length_ratio: float) -> list[tuple[dict, dict]]:
    correct = shortest_first(group.correct)
    chosen = correct[0]
    too_long = [s for s in correct[1:] if tokens(s) >= length_ratio * tokens(chosen)]
    return [(chosen, rejected) for rejected in longest_first(group.incorrect + too_long)]


def flash_pairs(group: PromptGroup) -> list[tuple[dict, dict]]:
    correct = shortest_first(group.correct)
    pairs = []
    for rejected in shortest_first(group.incorrect):
        longer = [c for c in correct if tokens(c) > tokens(rejected)]
        if longer:
            pairs.append((longer[0], rejected))
    return pairs


def _row(group: PromptGroup, kind: str, chosen: dict, rejected: dict) -> dict:
    return {"prompt": [user_message(group.text)], "chosen": [assistant_message(chosen)],
            "rejected": [assistant_message(rejected)], "pair_kind": kind, "prompt_id": group.prompt_id,
            "chosen_tokens": tokens(chosen), "rejected_tokens": tokens(rejected)}


def _capped(kind: str, pairs: list, cap: int, drops: Counter) -> list:
    if not pairs:
        drops["kimi_no_rejected" if kind == "kimi" else "flash_no_short_incorrect"] += 1
    drops[f"{kind}_over_cap"] += max(0, len(pairs) - cap)
    return pairs[:cap]


def rows_for_prompt(group: PromptGroup, cfg: PairsConfig, drops: Counter) -> list[dict]:
    if not group.correct:
        drops["no_correct"] += 1
        return []
    rows = []
    for kind in cfg.kinds:
        pairs = kimi_pairs(group, cfg.length_ratio) if kind == "kimi" else flash_pairs(group)
        rows += [_row(group, kind, c, r) for c, r in _capped(kind, pairs, cfg.max_pairs_per_prompt, drops)]
    return rows


def build(groups: Iterable[PromptGroup], cfg: PairsConfig, drops: Counter) -> Iterator[dict]:
    for group in groups:
        yield from rows_for_prompt(group, cfg, drops)
