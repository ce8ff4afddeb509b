"""Math verifier: the verdict is math-verify's verdict; a fast path and caches only make it cheaper.

What math-verify is asked (the configuration of its own test suite, tests/test_all.py `compare_strings`):
`verify(parse(gold_text, CONFIG), parse(answer, CONFIG))`, gold FIRST (verify is not symmetric), with
CONFIG = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()) and verify's defaults
(float_rounding 6, strict). `answer` is the whole text after `</think>`: math-verify finds the answer in it
(all boxes, "final answer is", `$…$`, plain numbers); there is no extraction of our own.

The gold (`gold_text`): a gold that already holds math delimiters (`$` but not `\\$`, `\\(`, `\\[`) or `\\boxed`
is given as is, like math-verify's test golds; so is a bare plain number (`42`, `1,000`, and the decimal comma
`1,22`, which math-verify reads as 1.22). Any other bare gold (MATH-500 style `2x+3`, `\\frac{\\sqrt3}{2}`) is one
LaTeX answer and goes inside `$…$`: as raw text math-verify would read `2x+3` as `2` and `\\frac{\\sqrt3}{2}` as
nothing.

Cheaper, never different (order of judging never matters; every cache memoizes a deterministic function):
1. verdict cache keyed by (gold, exact answer text): a teacher's n samples repeat answers verbatim.
2. the gold is parsed once (LRU), not once per sample.
3. exact fast path (eval/verifiers/math_fast.py): a lone boxed, `$…$` or bare integer / fraction / decimal against
   a rational gold, in `Fraction` arithmetic; a bare integer gold is not even parsed.
4. a one-boxed-answer text (`So the answer is $\\boxed{X}$.`, math_fast.boxed_answer) is parsed once per box
   content X (its exact extracted text): math-verify parses it as it parses `\\boxed{X}` whenever X parses; a
   `<prose> $X$.` text likewise once per span content X (math_fast.math_span_answer).
5. after math-verify parsed the answer, a second verdict cache keyed by (gold, the parsed form: `srepr` of each
   sympy result and the fallback string): different texts with one parsed form share math-verify's verdict.
6. math-verify `verify` itself.
math-verify's SIGALRM timeouts are off; our per-item deadline (eval/verifiers/deadline.py) bounds gold parse,
answer parse and verify, so it also works in threads. A deadline hit gives correct None, reason "timeout" (not
cached); a gold math-verify cannot parse gives correct None, reason "gold not parseable".
"""

from __future__ import annotations

import re
from functools import lru_cache

from eval.verifiers.deadline import DeadlineExceeded, call_with_deadline
from eval.verifiers.latex_two_stage import two_stage
from eval.verifiers.math_fast import bare_number, boxed_answer, fast_verdict, gold_value, math_span_answer
from eval.verifiers import number_memo

VERIFIER = "math"
CACHE_MAX = 200_000
_BARE_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:[.,]\d+)?|-?\.\d+")
_DELIMITED = re.compile(r"(?<!\\)\$|\\\(|\\\[|\\boxed")  # `\$` is a dollar sign, not a delimiter
_cache: dict[tuple[str, str], tuple[bool, str]] = {}  # (gold, answer text) -> verdict
_form_cache: dict[tuple[str, tuple], bool] = {}  # (gold, parsed answer) -> math-verify's verdict
_gold_values: dict[str, object] = {}  # gold -> Fraction | None (fast path) | _UNPARSEABLE
_UNPARSEABLE = "gold not parseable"


@lru_cache(maxsize=1)
def extraction_config() -> tuple:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())


def gold_text(gold) -> str:
    """The text math-verify parses for a gold answer (module docstring)."""
    text = str(gold).strip()
    if _DELIMITED.search(text) or _BARE_NUMBER.fullmatch(text):
        return text
    return f"${text}$"


def _quiet_math_verify() -> None:
    import math_verify.grader
    import math_verify.parser

    math_verify.parser.TIMEOUT_WARNING_SHOWN = math_verify.grader.TIMEOUT_WARNING_SHOWN = True


def parse_answer(text: str, extraction_mode: str = "any_match") -> list:
    """math-verify's parse of an answer text, CONFIG, its timeout off (we run it under our deadline)."""
    from math_verify import parse

    _quiet_math_verify()
    # SLL-first LaTeX parsing and memoized number literals: same results, faster (latex_two_stage, number_memo)
    with two_stage(), number_memo.memoized_numbers():
        return parse(text, extraction_config(), extraction_mode=extraction_mode, parsing_timeout=None)


@lru_cache(maxsize=4096)
def parsed_gold(gold: str) -> list:
    return parse_answer(gold_text(gold))


def math_verify_equal(gold: str, answer: str) -> bool | None:
    """math-verify's verdict with its timeouts off (run it under a deadline); None when the gold does not parse."""
    from math_verify import verify

    g = parsed_gold(str(gold))
    if not g:
        return None
    return bool(verify(g, parse_answer(answer), timeout_seconds=None))


def reference_equal(gold: str, answer: str) -> bool:
    """Plain math-verify, nothing cached, its own timeouts on: what tests and the bench compare the factory with."""
    from math_verify import parse, verify

    config = extraction_config()
    return bool(verify(parse(gold_text(gold), config), parse(answer, config)))


def judge_math(answer: str, gold: str, timeout_s: float = 5.0) -> dict:
    """Verdict for the answer text (after `</think>`) of a math sample against its gold answer."""
    gold, answer = str(gold), answer or ""
    key = (gold, answer)
    if key in _cache:
        return _verdict(*_cache[key])
    try:
        value = _gold_value(gold, timeout_s)
        if value is _UNPARSEABLE:
            return _verdict(None, _UNPARSEABLE)
        result = fast_verdict(value, answer) or call_with_deadline(_slow_verdict, (gold, answer), timeout_s)
    except DeadlineExceeded:
        return _verdict(None, "timeout")
    if result[0] is None:
        return _verdict(*result)
    _remember(_cache, key, result)
    return _verdict(*result)


def _gold_value(gold: str, timeout_s: float):
    if gold not in _gold_values:
        _remember(_gold_values, gold, call_with_deadline(_gold_fast_value, (gold,), timeout_s))
    return _gold_values[gold]


def _gold_fast_value(gold: str):
    bare = bare_number(gold)
    if bare is not None and bare[1] == "int":  # math-verify reads [Integer, its digits]: no need to parse it here
        return bare[0]
    parsed = parsed_gold(gold)
    return gold_value(parsed) if parsed else _UNPARSEABLE


def _slow_verdict(gold: str, answer: str) -> tuple[bool | None, str]:
    """math-verify on the answer, behind the parsed-form cache (runs under the caller's deadline)."""
    from math_verify import verify

    g = parsed_gold(gold)
    if not g:
        return None, _UNPARSEABLE
    parsed = _parse_boxed(boxed_answer(answer)) or _parse_span(math_span_answer(answer)) or parse_answer(answer)
    if not parsed:
        return False, "no answer found"
    form = (gold, parsed_form(parsed))
    if form not in _form_cache:
        _remember(_form_cache, form, bool(verify(g, list(parsed), timeout_seconds=None)))
    return (True, "math-verify") if _form_cache[form] else (False, "wrong answer")


@lru_cache(maxsize=65536)
def _parse_boxed(box: str | None) -> tuple | None:
    """math-verify's parse of a one-boxed-answer text, keyed by the box's exact content (math_fast.boxed_answer).

    Only a parse that read the box itself stands for the whole text: math-verify's "first_match" mode tries only
    the first candidate (the box), and when that one parses, its default mode returns the same. If the box does
    not parse, math-verify goes on to other parts of the text, so None: parse the whole text.
    """
    if box is None:
        return None
    return _read(parse_answer(f"\\boxed{{{box}}}", "first_match"))


@lru_cache(maxsize=65536)
def _parse_span(span: str | None) -> tuple | None:
    """The same for a `<prose> $X$.` text (math_fast.math_span_answer), keyed by the span's exact content."""
    return None if span is None else _read(parse_answer(f"${span}$", "first_match"))


def _read(parsed: list) -> tuple | None:
    return tuple(parsed) if len(parsed) == 2 and not isinstance(parsed[0], str) else None


def parsed_form(parsed) -> tuple:
    """A lossless key for math-verify's parse result: `srepr` (sympy's exact constructor form) or the string."""
    from sympy import srepr

    return tuple(("str", x) if isinstance(x, str) else (type(x).__name__, srepr(x)) for x in parsed)


def _remember(cache: dict, key, value) -> None:
    if len(cache) >= CACHE_MAX:
        cache.clear()
    cache[key] = value


def clear_caches() -> None:
    """Forget every memoized verdict and gold parse (tests, benchmarks)."""
    _cache.clear()
    _form_cache.clear()
    _gold_values.clear()
    parsed_gold.cache_clear()
    _parse_boxed.cache_clear()
    _parse_span.cache_clear()
    number_memo.clear()


def _verdict(correct: bool | None, reason: str) -> dict:
    return {"correct": correct, "reason": reason, "verifier": VERIFIER}
