"""The math fast path: exact literals in the one shape whose math-verify extraction is known, defer otherwise."""

from fractions import Fraction

import pytest
import sympy

from eval.verifiers.math_fast import answer_literal, fast_verdict, gold_value, literal_value, math_span_answer


@pytest.mark.parametrize("text, value", [
    ("0", (Fraction(0), "int")), ("-17", (Fraction(-17), "int")), ("\\frac{3}{4}", (Fraction(3, 4), "frac")),
    ("-\\dfrac{6}{8}", (Fraction(-3, 4), "frac")), ("\\frac12", (Fraction(1, 2), "frac")),
    ("0.75", (Fraction(3, 4), "decimal")), (str(2**100), (Fraction(2**100), "int")),
])
def test_canonical_literals(text, value):
    assert literal_value(text) == value


@pytest.mark.parametrize("text", [
    "007", "-0", "1,000", "32,\\! 349", "2^10", "2^{10}", "10^{15}+1", "3\u20135", "3-5", "2\\frac12", "1e5",
    "10\\%", "\\$7.78", "5 \\text{ cm}", "0.1234567890123456", "\\frac{1}{0}", "x", "\\leftarrow", "", ".5",
])
def test_everything_else_is_not_a_literal(text):
    assert literal_value(text) is None


@pytest.mark.parametrize("answer", [
    "\\boxed{42}", "$\\boxed{42}$", "So the answer is $\\boxed{42}$.", "**Final Answer**\n\\[\n\\boxed{42}\n\\]",
    "$$\\boxed{42}$$", "\\(\\boxed{42}\\)",
])
def test_one_boxed_number_shapes(answer):
    assert answer_literal(answer) == (Fraction(42), "int")


@pytest.mark.parametrize("answer", [
    "\\boxed{4} and \\boxed{2}", "$\\boxed{42}$ percent", "\\boxed{42}%", "$x = \\boxed{42}$",
    "Final answer is \\boxed{42}. I hope it is correct.", "\\boxed{42} \\text{cm}", "$\\boxed{42}\\]",
    "The cost is \\$ \\boxed{42}", "(a) \\boxed{42}",
])
def test_other_shapes_go_to_math_verify(answer):
    assert answer_literal(answer) is None


def test_gold_value_needs_a_rational_with_its_canonical_string():
    assert gold_value([sympy.Rational(3, 4), "\\frac{3}{4}"]) == Fraction(3, 4)
    assert gold_value([sympy.Integer(42), "42"]) == 42
    assert gold_value([sympy.Integer(1000), "1,000"]) is None  # not canonical: math-verify decides
    assert gold_value([sympy.Float("0.75"), "0.75"]) is None
    assert gold_value([sympy.Integer(42)]) is None


def test_verdicts_are_exact_and_defer_on_decimals_that_differ():
    assert fast_verdict(Fraction(1, 2), "\\boxed{0.5}") == (True, "equal numbers")
    assert fast_verdict(Fraction(2**100), f"\\boxed{{{2**100 - 1}}}") == (False, "wrong answer")
    assert fast_verdict(Fraction(1, 3), "\\boxed{\\frac{1}{3}}") == (True, "equal numbers")
    assert fast_verdict(Fraction(1, 3), "\\boxed{0.333333}") is None  # math-verify rounds: it decides
    assert fast_verdict(None, "\\boxed{1}") is None


def test_bare_numbers_are_literals_but_bare_fractions_are_not():
    assert answer_literal("42") == (Fraction(42), "int")
    assert answer_literal(" -0.5 ") == (Fraction(-1, 2), "decimal")
    assert answer_literal("\\frac{1}{2}") is None and answer_literal("042") is None


@pytest.mark.parametrize("answer, span", [
    ("The final answer is $42$.", "42"), ("$$x+1$$", "x+1"), ("Answer: \\(\\frac{1}{2}\\)", "\\frac{1}{2}"),
    ("is 5$3$", None), ("$x$ and $y$", None), ("The final answer is $4$. I hope it is correct.", None),
    ("$5$%", None), ("\\[\nx\n\\]", None),
])
def test_one_math_span_shapes(answer, span):
    assert math_span_answer(answer) == span


def test_answer_words_in_the_prose_of_a_math_span():
    assert math_span_answer("The final answer is $\\frac34$.") == "\\frac34"
    assert math_span_answer("final answer is 3 so $\\frac34$.") is None  # math-verify reads the 3
    assert math_span_answer("The answer, after some work, is $5$") is None
