"""Split a completion into reasoning and answer, and judge its `<think>` format.

Rules (DESIGN.md "Eval protocol", R1 format reward):
- format_ok: exactly one `<think>...</think>` followed by a non-empty answer.
- truncated: no `</think>` at all. Such a completion has NO answer (answer == ""), whatever its reasoning
  says: lm-eval issue 3382 scored the reasoning text of cut-off completions as answers; we never do.
- A chat template that already opened `<think>` in the prompt (R1-Distill, Qwen3) makes the completion
  start inside the reasoning: no opening tag but one closing tag. We accept that form as well-formed:
  everything before `</think>` is the reasoning.
"""

from __future__ import annotations

import re
from typing import NamedTuple

OPEN, CLOSE = "<think>", "</think>"
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


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


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`) in `text`, braces balanced; None if there is none.

    An unclosed last box (a completion cut inside it) gives "": an earlier box is not the final answer.
    """
    starts = [m.end() for m in _BOXED.finditer(text)]
    if not starts:
        return None
    depth = 1
    for i in range(starts[-1], len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[starts[-1]:i].strip()
    return ""


_MATH_SEGMENT = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)


def final_answer(answer: str) -> str:
    """The answer to grade: the last `\\boxed{}` content if any, else the whole answer text stripped."""
    boxed = last_boxed(answer)
    return boxed if boxed is not None else answer.strip()


def last_math_segment(answer: str) -> str | None:
    """Content of the last `$...$`, `$$...$$`, `\\(...\\)` or `\\[...\\]` in `answer`, or None."""
    segments = _MATH_SEGMENT.findall(answer)
    return next((part for part in segments[-1] if part), "").strip() if segments else None
