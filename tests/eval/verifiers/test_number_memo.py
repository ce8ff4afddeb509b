"""Memoized number literals (eval/verifiers/number_memo.py) give exactly what `sympy.Number` gives.

Checked twice: literal by literal against `sympy.Number` (value, type and Float precision, through `srepr`),
and through math-verify's whole parse of every text in its own test suite (tests/fixtures/math_verify/cases.json)
plus teacher-style shapes, parsed plainly and then twice under the memo (the second pass is all cache hits).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.verifiers import number_memo
from eval.verifiers.number_memo import memoized_numbers

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "math_verify" / "cases.json"
LITERALS = ["0", "7", "42", "1000000000000000000001", "0.5", "0.50", "3.14159265358979323846264338", "2.",
            ".25", "1e5", "2.5E-3", "1/3", "-4"]
SHAPES = [r"$\frac{3}{4}$", r"$0.50$", r"$3.14159265358979323846$", r"$2\sqrt{7}$", r"$1,000$", r"$10^{15}+1$",
          r"The answer is 0.333333333333333333.", r"$\$7.78$", r"$50\%$", r"$(-3, 7]$", r"$3x^2+45x$", "1,22"]


def _outcome(fn, *args) -> str:
    from sympy import srepr

    try:
        return srepr(fn(*args))
    except Exception as error:  # noqa: BLE001 - the exception is part of the result being compared
        return f"error {type(error).__name__}"


@pytest.mark.parametrize("text", LITERALS)
def test_a_memoized_literal_is_sympys_own(text):
    import sympy

    number_memo.clear()
    want = _outcome(sympy.Number, text)
    with memoized_numbers():
        assert [_outcome(number_memo.number, text) for _ in range(2)] == [want, want]


def _parses(texts: list[str]) -> list[str]:
    import math_verify.parser
    from math_verify import parse
    from sympy import srepr

    from eval.verifiers.math import extraction_config

    out = []
    for text in texts:
        math_verify.parser.parse_latex_cached.cache_clear()  # math-verify's own memo would hide our parsers
        math_verify.parser.parse_expr_cached.cache_clear()
        out.append(repr([x if isinstance(x, str) else srepr(x) for x in parse(text, extraction_config())]))
    return out


def test_math_verify_parses_every_peer_suite_text_the_same_under_the_memo():
    from eval.verifiers.math import gold_text

    cases = json.loads(CASES.read_text())["cases"]
    texts = [t for c in cases for t in (gold_text(c["gold"]), c["pred"])] + SHAPES
    plain = _parses(texts)
    number_memo.clear()
    with memoized_numbers():
        first, second = _parses(texts), _parses(texts)
        assert number_memo._number.cache_info().hits + number_memo._parsed_number.cache_info().hits > 100
    assert [t for t, p, f, s in zip(texts, plain, first, second) if not p == f == s] == []


def test_outside_the_block_numbers_are_not_memoized():
    number_memo.clear()
    with memoized_numbers():
        pass  # installs the patch
    _parses([r"$\frac{3}{4}$", "12"])
    assert number_memo._number.cache_info().currsize == number_memo._parsed_number.cache_info().currsize == 0
