"""The one `<think>` parser: split a completion into reasoning and answer, and judge its format.

Every package that reads a completion (generation, verification, datasets, eval, the bootstrap teacher's check)
calls `split_think`; it imports nothing, so any layer may use it. Rules (DESIGN.md "Eval protocol", R1 format
reward):
- the answer is the text after the LAST `</think>`;
- truncated: no `</think>` at all. Such a completion has NO answer (answer == ""), whatever its reasoning
  says: lm-eval issue 3382 scored the reasoning text of cut-off completions as answers; we never do;
- format_ok: exactly one `<think>...</think>` followed by a non-empty answer. A chat template that already
  opened `<think>` in the prompt (R1-Distill, Qwen3) makes the completion start inside the reasoning: no
  opening tag but one closing tag. That form is well-formed too: everything before `</think>` is the reasoning.
"""

from __future__ import annotations

from typing import NamedTuple

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplit(NamedTuple):
    reasoning: str
    answer: str
    format_ok: bool
    truncated: bool


def split_think(text: str) -> ThinkSplit:
    """Return (reasoning, answer, format_ok, truncated) for one completion (see the module docstring)."""
    text = text or ""
    n_open, n_close = text.count(OPEN), text.count(CLOSE)
    if n_close == 0:
        reasoning = text.split(OPEN, 1)[1] if n_open else text
        return ThinkSplit(reasoning.strip(), "", False, True)
    head, answer = text.rsplit(CLOSE, 1)
    answer = answer.strip()
    prefix, _, reasoning = head.partition(OPEN) if n_open else ("", "", head)
    well_formed = n_close == 1 and n_open <= 1 and not prefix.strip()
    return ThinkSplit(reasoning.strip(), answer, well_formed and bool(answer), False)


def answer_or_none(text: str) -> str | None:
    """The text after the last `</think>`, stripped; None when there is none (a truncated completion)."""
    split = split_think(text)
    return None if split.truncated else split.answer
