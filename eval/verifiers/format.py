"""Judge a completion's `<think>` format and pick the final answer out of the answer text.

The split into reasoning and answer is core/think.py's `split_think` (the one parser, re-exported here).
"""

from __future__ import annotations

import re

from core.think import CLOSE, OPEN, ThinkSplit, split_think

__all__ = ["CLOSE", "OPEN", "ThinkSplit", "final_answer", "last_boxed", "split_think"]
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


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


def final_answer(answer: str) -> str:
    """The answer to grade: the last `\\boxed{}` content if any, else the whole answer text stripped."""
    boxed = last_boxed(answer)
    return boxed if boxed is not None else answer.strip()

