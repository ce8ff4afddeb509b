"""The RL prompt pool: pass rate per prompt from the teacher's n samples, a difficulty window, an order.

pass_rate = correct / judged samples (unjudged samples, verdict None, count in neither). A prompt is kept
when `min_pass_rate < pass_rate < max_pass_rate` - both bounds exclusive, also at the defaults 0.0 / 1.0:
a prompt every sample solves, or none does, gives GRPO's group-normalized advantage (DeepSeek-R1,
sec. 2.2.1) nothing but zeros, so it only costs generation time. Dropped: `unjudged` (no judged sample),
`too_easy` (rate >= max), `too_hard` (rate <= min).

Order (Kimi Team 2025, "Kimi k1.5", sec. 2.3.4, sampling strategies):
- `curriculum`: easy -> hard (pass rate high to low), Kimi's curriculum sampling;
- `failure_priority`: hard -> easy (failure rate 1 - pass_rate high to low), a static form of Kimi's
  prioritized sampling, which draws a problem with probability proportional to its failure rate;
- `none`: shard order.
Ties break by prompt_id so the order is reproducible. Columns: `prompt` (conversational [user msg]),
`gold`, `task`, `pass_rate`, `prompt_id`, `metadata` (JSON string, for reasoning-gym scoring in rewards).
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator

from datasets import Dataset, Features, Value

from core.atomic import read_jsonl
from factory.data.config import RLPoolConfig
from factory.data.rejection import MESSAGES
from factory.data.samples import PromptGroup, user_message

RULE = "RL pool: prompts with min_pass_rate < teacher pass rate < max_pass_rate, ordered by difficulty"
CITATION = "Kimi Team (2025), Kimi k1.5, sec. 2.3.4 (curriculum and prioritized sampling); DeepSeek-R1 sec. 2.2.1"
FEATURES = Features({"prompt": MESSAGES, "gold": Value("string"), "task": Value("string"),
                     "pass_rate": Value("float64"), "prompt_id": Value("string"), "metadata": Value("string")})
DROP_KEYS = ("unjudged", "too_easy", "too_hard")


def pass_rate(group: PromptGroup) -> float | None:
    judged = group.judged
    return len(group.correct) / judged if judged else None


def row_for_prompt(group: PromptGroup, cfg: RLPoolConfig, drops: Counter) -> dict | None:
    rate = pass_rate(group)
    reason = ("unjudged" if rate is None else "too_easy" if rate >= cfg.max_pass_rate
              else "too_hard" if rate <= cfg.min_pass_rate else None)
    if reason:
        drops[reason] += 1
        return None
    return _pool_row(group.prompt, group.text, group.prompt_id, rate)


def _pool_row(prompt: dict, text: str, prompt_id: str, rate: float | None) -> dict:
    """One pool row (FEATURES) for a prompt row; `rate` is the teacher's pass rate, None when unmeasured."""
    return {"prompt": [user_message(text)], "gold": str(prompt.get("gold", "")), "task": prompt.get("task", ""),
            "pass_rate": rate, "prompt_id": prompt_id, "metadata": _metadata_json(prompt.get("metadata"))}


def _metadata_json(metadata) -> str:
    """Metadata as a JSON string (it may arrive already serialized from a compact prompt table)."""
    return metadata if isinstance(metadata, str) else json.dumps(metadata or {}, ensure_ascii=False, sort_keys=True)


def ordered(rows: list[dict], order: str) -> list[dict]:
    if order == "curriculum":
        return sorted(rows, key=lambda r: (-r["pass_rate"], r["prompt_id"]))
    if order == "failure_priority":
        return sorted(rows, key=lambda r: (r["pass_rate"], r["prompt_id"]))
    return rows


def sort_dataset(ds, order: str):
    """The same order as `ordered`, done by Arrow on a `datasets.Dataset` (for pools too big for Python lists)."""
    if order == "none":
        return ds
    with warnings.catch_warnings():  # pyarrow 25 deprecation inside datasets' sort, not ours to fix
        warnings.simplefilter("ignore", FutureWarning)
        return ds.sort(["pass_rate", "prompt_id"], reverse=[order == "curriculum", False])


def build(groups: Iterable[PromptGroup], cfg: RLPoolConfig, drops: Counter) -> Iterator[dict]:
    """One row per kept prompt; the pool (one small row per prompt) is held to be ordered."""
    rows = [r for g in groups if (r := row_for_prompt(g, cfg, drops)) is not None]
    yield from ordered(rows, cfg.order)


def prompt_pool(train_jsonl):
    """Every train prompt as a pool row, in file order, with no teacher in the loop (`data: prompts`).

    R1-Zero's setting: RL (or on-policy distillation) on the task's own prompts, no difficulty window or
    curriculum from the teacher's samples. It also lets such a student start before the teacher has sampled.
    pass_rate is null: nobody measured it."""
    rows = [_pool_row(r, r["prompt"], r["prompt_id"], None) for r in read_jsonl(train_jsonl)]
    if not rows:
        raise ValueError(f"no train prompts in {train_jsonl}")
    return Dataset.from_list(rows, features=FEATURES)
