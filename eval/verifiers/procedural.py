"""Procedural verifier: reasoning-gym's own scorer for `procedural:<dataset name>` prompts.

reasoning-gym gives partial credit for formatting (`\\boxed{-4}` scores 0.2 on basic_arithmetic), so the
final answer is extracted first (the last `<answer>...</answer>`, else the last `\\boxed{}`, else the whole
answer text) and a sample is correct only at score == 1.0. The prompt row carries the entry's metadata
(`prompt["metadata"]`) because many scorers read it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from eval.verifiers.format import final_answer

VERIFIER = "procedural"
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


@lru_cache(maxsize=None)
def score_fn(name: str):
    """reasoning-gym's `score_answer(answer, entry)` for dataset `name`; a clear error for an unknown name."""
    import reasoning_gym

    try:
        return reasoning_gym.get_score_answer_fn(name)
    except Exception as e:  # reasoning-gym raises assorted errors for unknown names
        raise ValueError(f"prompt task 'procedural:{name}': unknown reasoning-gym dataset ({e})") from None


def extract(answer: str) -> str:
    """The final answer to score; a unicode minus (U+2212) becomes '-' (a model's typography, not an error)."""
    tags = _ANSWER_TAG.findall(answer)
    return (tags[-1].strip() if tags else final_answer(answer)).replace("\u2212", "-")


def judge_procedural(answer: str, prompt: dict) -> dict:
    """Verdict for a `procedural:<name>` sample: correct iff reasoning-gym scores the extracted answer 1.0."""
    name = prompt["task"].split(":", 1)[1]
    fn = score_fn(name)
    pred = extract(answer)
    if not pred:
        return _verdict(False, "empty answer")
    entry = {"question": prompt.get("prompt", ""), "answer": prompt.get("gold"),
             "metadata": prompt.get("metadata") or {}}
    try:
        score = float(fn(pred, entry))
    except Exception as e:  # a scorer crash is "cannot judge", not "wrong"
        return _verdict(None, f"scorer error: {type(e).__name__}")
    return _verdict(score == 1.0, "score 1.0" if score == 1.0 else f"score {score:g}")


def _verdict(correct: bool | None, reason: str) -> dict:
    return {"correct": correct, "reason": reason, "verifier": VERIFIER}
