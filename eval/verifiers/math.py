"""Math verifier: math-verify on the final answer, behind an exact fast path and a cache.

Order of work for one (gold, answer) pair:
1. Extract the final answer: the last `\\boxed{}` of the answer text (text after `</think>`), else its last
   `$...$` math segment, else the whole answer text. An empty box is an empty answer: incorrect.
2. Cache keyed by (gold, normalized answer): a teacher's n samples of one prompt repeat the same answers.
3. Fast path (eval/verifiers/math_fast.py): normalized string equality, equal exact numbers (`1/2`,
   `\\frac12`, `\\frac{1}{2}`, `0.5`, unicode minus), or equal values of simple constant expressions
   (`3\\sqrt{2}` vs `\\sqrt{18}`); two different exact values are a definite mismatch; the rest goes on.
4. math-verify (`parse` / `verify`, gold FIRST: verify is not symmetric) with its SIGALRM timeouts switched
   off and our own per-item deadline (eval/verifiers/deadline.py), so it works in threads and workers.
   A deadline hit gives correct None, reason "timeout" (not cached).
"""

from __future__ import annotations

from functools import lru_cache

from eval.verifiers.deadline import DeadlineExceeded, call_with_deadline
from eval.verifiers.format import last_boxed, last_math_segment
from eval.verifiers.math_fast import fast_verdict, normalize

VERIFIER = "math"
CACHE_MAX = 200_000
_cache: dict[tuple[str, str], tuple[bool | None, str]] = {}


@lru_cache(maxsize=4096)
def _parsed_gold(gold: str):
    from math_verify import parse

    text = gold if ("$" in gold or "\\boxed" in gold) else f"\\boxed{{{gold}}}"
    return parse(text, parsing_timeout=None)


def math_verify_equal(gold: str, pred_text: str) -> bool | None:
    """math-verify with its own timeouts off (run under our deadline); None when the gold does not parse."""
    import math_verify.grader
    import math_verify.parser
    from math_verify import parse, verify

    math_verify.parser.TIMEOUT_WARNING_SHOWN = math_verify.grader.TIMEOUT_WARNING_SHOWN = True
    parsed_gold = _parsed_gold(gold)
    if not parsed_gold:
        return None
    return bool(verify(parsed_gold, parse(pred_text, parsing_timeout=None), timeout_seconds=None))


def judge_math(answer: str, gold: str, timeout_s: float = 5.0) -> dict:
    """Verdict for the answer text (after `</think>`) of a math sample against its gold answer."""
    pred, pred_text = extract_prediction(answer)
    if not pred:
        return _verdict(False, "empty answer")
    gold = str(gold)
    key = (gold, normalize(pred))
    if key not in _cache:
        correct, reason = fast_verdict(normalize(gold), key[1]) or _slow_verdict(gold, pred_text, timeout_s)
        if reason == "timeout":
            return _verdict(correct, reason)
        if len(_cache) >= CACHE_MAX:
            _cache.clear()
        _cache[key] = (correct, reason)
    return _verdict(*_cache[key])


def extract_prediction(answer: str) -> tuple[str, str]:
    """(final answer, the text math-verify should parse for it): boxed, else last `$...$`, else the whole answer."""
    boxed = last_boxed(answer)
    if boxed is not None:
        return boxed, f"\\boxed{{{boxed}}}"
    segment = last_math_segment(answer)
    if segment:
        return segment, f"${segment}$"
    return answer.strip(), answer


def _slow_verdict(gold: str, pred_text: str, timeout_s: float) -> tuple[bool | None, str]:
    try:
        equal = call_with_deadline(math_verify_equal, (gold, pred_text), timeout_s)
    except DeadlineExceeded:
        return None, "timeout"
    if equal is None:
        return None, "gold not parseable"
    return equal, "math-verify" if equal else "wrong answer"


def _verdict(correct: bool | None, reason: str) -> dict:
    return {"correct": correct, "reason": reason, "verifier": VERIFIER}
