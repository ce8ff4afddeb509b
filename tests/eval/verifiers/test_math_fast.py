"""The math fast path: exact numbers and simple constant expressions, and knowing when to defer."""

import math

import pytest

from eval.verifiers.math_fast import constant_value, exact_number, fast_verdict, normalize


@pytest.mark.parametrize("text, value", [
    ("\\frac12", 0.5), ("\\frac{3}{4}\\pi", 0.75 * math.pi), ("\\frac{3\\pi}{4}", 0.75 * math.pi),
    ("2\\sqrt{3}", 2 * math.sqrt(3)), ("\\sqrt{12}", math.sqrt(12)), ("2^{10}", 1024.0), ("2^34", 32.0),
    ("-(1+2)\\cdot3", -9.0), ("\\sqrt2/2", math.sqrt(2) / 2),
])
def test_constant_values(text, value):
    assert constant_value(text) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text", ["x+1", "(1,2]", "\\sqrt[3]{8}", "10\\%", "\\frac{1}{0}", "2^{100000}", "{1", ""])
def test_non_constants_and_bad_input_give_none(text):
    assert constant_value(text) is None


def test_exact_numbers_and_normalization():
    assert exact_number(normalize("$\u22121/2$")) == exact_number("-\\frac{1}{2}") == exact_number("-0.5")
    assert normalize("\\left( 1 ,\\, 2 \\right]") == "(1,2]"


def test_fast_verdict_is_conclusive_only_when_safe():
    assert fast_verdict("2\\sqrt{3}", "\\sqrt{12}") == (True, "equal values")
    assert fast_verdict("2\\sqrt{3}", "3\\sqrt{2}") == (False, "wrong answer")
    assert fast_verdict("\\frac{1}{3}", "0.3333") is None  # rounding: math-verify decides
    assert fast_verdict("\\frac{1}{3}", "0.33") == (False, "wrong answer")  # too far to be a rounding
    assert fast_verdict("44.2", "45.2") == (False, "wrong answer")
    assert fast_verdict("(1,2]", "(1,2]") == (True, "exact match")
    assert fast_verdict("(1,2]", "(1,2)") == (False, "wrong answer")
    assert fast_verdict("x+1", "1+x") is None


def test_intervals_and_tuples_compare_brackets_and_elements():
    assert fast_verdict("(-3,84]", "(-3,\\frac{168}{2}]") == (True, "equal values")
    assert fast_verdict("(-3,84]", "[-3,84]") == (False, "wrong answer")
    assert fast_verdict("[0,\\infty)", "[0,\\infty)") == (True, "exact match")
    assert fast_verdict("[0,\\infty)", "[-0,\\infty)") == (True, "equal values")
    assert fast_verdict("(1,2)", "(1,2,3)") == (False, "wrong answer")
    assert fast_verdict("(x,2)", "(1,2)") is None
