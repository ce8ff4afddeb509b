"""Reading verified sample shards as a stream of per-prompt groups, and the judgements every builder shares.

Shards hold sample rows (DESIGN.md, "Data contracts") sorted by prompt_id then sample_idx, so the
samples of one prompt are contiguous: a group is built by `itertools.groupby` and memory holds one
prompt's n samples at a time, whatever the number of shards or rows.

A sample is *correct* when the verifier said `verdict.correct is True`, its format is not known bad
and it was not cut by the token limit (a truncated completion has no answer - lm-eval issue 3382);
*incorrect* when `verdict.correct is False`; *unjudged* (`None`, e.g. no gold) samples are neither
and take part in no rule.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from core.think import OPEN, split_think


class ShardOrderError(ValueError):
    """Samples of one prompt are not contiguous in the shards; the message names the prompt and file."""


@dataclass
class PromptGroup:
    """The n samples of one prompt (sorted by sample_idx) and that prompt's row from the prompts stage."""

    prompt_id: str
    samples: list[dict]
    prompt: dict

    @cached_property
    def correct(self) -> list[dict]:
        return [s for s in self.samples if is_correct(s)]

    @cached_property
    def incorrect(self) -> list[dict]:
        return [s for s in self.samples if is_incorrect(s)]

    @cached_property
    def judged(self) -> int:
        return sum(1 for s in self.samples if _verdict(s) is not None)

    @property
    def text(self) -> str:
        """The user message: the text the teacher answered (sample row), else the prompt row's text."""
        return self.samples[0].get("prompt") or self.prompt.get("prompt", "")


def _verdict(sample: dict):
    return (sample.get("verdict") or {}).get("correct")


def is_correct(sample: dict) -> bool:
    return _verdict(sample) is True and sample.get("format_ok") is not False and not sample.get("truncated")


def is_incorrect(sample: dict) -> bool:
    return _verdict(sample) is False or (_verdict(sample) is True and not is_correct(sample))


def tokens(sample: dict) -> int:
    """Length in teacher tokens (the generate stage counts them with the teacher tokenizer)."""
    return int(sample["completion_tokens"])


def shortest_first(samples: Iterable[dict]) -> list[dict]:
    """By token count, ties broken by sample_idx so the choice is deterministic."""
    return sorted(samples, key=lambda s: (tokens(s), s["sample_idx"]))


def assistant_text(sample: dict) -> str:
    """The assistant turn every dataset uses: `<think>reasoning</think>answer` as the teacher wrote it.

    A well-formed completion is kept verbatim, whitespace around the tags included: rebuilding it from
    the stripped fields turned the micro teacher's `<think>\nWe need` into `<think>We need`, a format
    the teacher never wrote, and its own SFT round then lost 8-70 points (docs/micro-results.md)."""
    completion = sample.get("completion") or ""
    if completion.startswith(OPEN) and split_think(completion).format_ok:
        return completion
    return f"<think>{sample.get('reasoning') or ''}</think>{sample.get('answer') or ''}"


def user_message(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant_message(sample: dict) -> dict:
    return {"role": "assistant", "content": assistant_text(sample)}


def read_samples(files: Iterable[Path]) -> Iterator[dict]:
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise ValueError(f"{path}:{line_no}: not a JSON line ({e.msg})") from e
                    row["_file"] = path.name
                    yield row


def iter_groups(files: Iterable[Path], prompts: dict[str, dict]) -> Iterator[PromptGroup]:
    """One PromptGroup per prompt, in shard order; raises ShardOrderError if a prompt's samples are split."""
    seen: set[str] = set()
    for pid, rows in itertools.groupby(read_samples(files), key=lambda r: r["prompt_id"]):
        samples = sorted(rows, key=lambda r: r["sample_idx"])
        if pid in seen:
            raise ShardOrderError(f"samples of prompt {pid} are not contiguous (again in {samples[0]['_file']}); "
                                  f"shards must be sorted by prompt_id then sample_idx")
        seen.add(pid)
        yield PromptGroup(pid, samples, prompts.get(pid, {}))
