"""SLL-first LaTeX parsing (eval/verifiers/latex_two_stage.py) gives latex2sympy's LL result on every string.

The strings are every LaTeX text math-verify hands to latex2sympy while judging its own test suite
(tests/fixtures/math_verify/cases.json) and a generated mix of the shapes teachers write; among them are
polynomials such as `3x^2+45x`, on which SLL prediction alone raises a syntax error and LL parses.
"""

from __future__ import annotations

import json
from pathlib import Path

from eval.verifiers.latex_two_stage import two_stage

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "math_verify" / "cases.json"
GENERATED = [f"{b}x^2{s}{a}x" for a in (5, 45, 91) for b in (2, 3, 9) for s in "+-"] + [
    r"\frac{3}{4}", r"\dfrac34", r"2\sqrt{7}", r"\frac{5\pi}{3}", r"(-3, 7]", r"(2, 5)", r"x(3x+4)",
    r"\{1, 2, 3\}", r"10^{15}+1", r"2\frac12", r"x \rightarrow 3", r"3 \leq x < 5", r"\text{(A)}", r"1,000",
    r"\$7.78", r"50\%", r"5\text{ cm}", r"\frac{\sqrt3}{2}", r"a=3, b=4", r"\begin{pmatrix}1\\2\end{pmatrix}",
]


def ll_outcomes() -> dict[tuple[str, bool], tuple[str, str]]:
    """(string, is_real) -> latex2sympy's LL outcome, for every string math-verify parses in the peer suite."""
    import latex2sympy2_extended.latex2sympy2 as l2s
    from math_verify import parse
    from sympy import srepr

    from eval.verifiers.math import extraction_config, gold_text

    seen, parse_ll = {}, l2s._Latex2Sympy.parse

    def recording(self, text):
        try:
            result = parse_ll(self, text)
        except Exception as error:
            seen[text, self.is_real] = "error", type(error).__name__
            raise
        seen[text, self.is_real] = "ok", srepr(result)
        return result

    l2s._Latex2Sympy.parse = recording
    try:
        for case in json.loads(CASES.read_text())["cases"]:
            for text in (gold_text(case["gold"]), case["pred"]):
                parse(text, extraction_config())
    finally:
        l2s._Latex2Sympy.parse = parse_ll
    for text in GENERATED:
        seen[text, True] = outcome(text, True)
    return seen


def outcome(text: str, is_real: bool) -> tuple[str, str]:
    """latex2sympy's result as sympy's exact constructor form, or the exception it raises."""
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig, _Latex2Sympy
    from sympy import srepr

    try:
        return "ok", srepr(_Latex2Sympy(is_real=is_real, config=ConversionConfig()).parse(text))
    except Exception as error:  # noqa: BLE001 - the exception is part of the result being compared
        return "error", type(error).__name__


def test_two_stage_parsing_returns_what_ll_returns_on_every_string():
    ll = ll_outcomes()
    assert len(ll) > 150
    with two_stage():
        differ = [(key, want, got) for key, want in ll.items() if (got := outcome(*key)) != want]
    assert differ == []


def test_strings_sll_alone_cannot_parse_are_parsed_by_the_ll_fallback():
    """The guarantee is "LL's tree or a syntax error": the fallback is what makes the polynomials parse."""
    from antlr4.atn.PredictionMode import PredictionMode
    from latex2sympy2_extended.latex2sympy2 import _Latex2Sympy

    def sll_only(text):
        converter = _Latex2Sympy(is_real=True)
        parser = converter.create_parser(text)
        parser._interp.predictionMode = PredictionMode.SLL
        converter.create_parser = lambda _text: parser
        try:
            converter.parse(text)  # outside two_stage(): latex2sympy's own parse, with this SLL parser
        except Exception:  # noqa: BLE001
            return "error"
        return "ok"

    polynomial = "3x^2+45x"
    ll = outcome(polynomial, True)
    assert ll[0] == "ok"
    assert sll_only(polynomial) == "error"
    with two_stage():
        assert outcome(polynomial, True) == ll


def test_outside_the_block_latex2sympy_keeps_ll_prediction():
    """The reference side of tests and benchmarks (plain math-verify) must not be switched to SLL."""
    from antlr4.atn.PredictionMode import PredictionMode
    from latex2sympy2_extended.latex2sympy2 import _Latex2Sympy

    modes = []
    with two_stage():
        pass
    create = _Latex2Sympy.create_parser

    def spy(self, text):
        parser = create(self, text)
        modes.append(parser._interp.predictionMode)
        return parser

    _Latex2Sympy.create_parser = spy
    try:
        outcome("x+1", True)
        with two_stage():
            outcome("x+2", True)
    finally:
        _Latex2Sympy.create_parser = create
    assert modes == [PredictionMode.LL, PredictionMode.SLL]


def test_a_latex2sympy_without_the_wrapped_methods_leaves_ll_on_with_a_warning(monkeypatch):
    import warnings

    import latex2sympy2_extended.latex2sympy2 as l2s

    import eval.verifiers.latex_two_stage as two

    monkeypatch.setattr(two, "_installed", False)
    monkeypatch.delattr(l2s, "_Latex2Sympy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with two_stage():
            pass
    assert two._installed and any("two-stage LaTeX parsing is off" in str(w.message) for w in caught)
