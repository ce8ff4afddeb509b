"""The math verifier's fast path: settle with exact arithmetic only what math-verify provably settles the same way.

math-verify (its regex extraction, then sympy and an ANTLR LaTeX parser) costs milliseconds per answer; most of
that is parsing. A teacher's final answers are mostly one boxed number. For exactly that shape this module knows
what math-verify extracts, without running it:

- the answer text is `<plain prose>` + optional `$`, `$$`, `\\(` or `\\[` + `\\boxed{N}` + the matching closing
  delimiter + an optional period, and nothing else (`boxed_answer`). The prose has no `$`, backslash, brace,
  bracket, parenthesis, percent sign or the word "hope" (math-verify's priority-0 "final answer is ... I hope"
  pattern); the box holds balanced braces and no `$`, newline, `\\boxed`, `\\fbox`, `\\)` or `\\]`. With
  `boxed_match_priority=0` the box is then the only priority-0 match: math-verify reads N and nothing else.
- N is a canonical literal: an integer without leading zeros (`0`, `-17`), a decimal of at most 15 significant
  digits (`-0.75`), or `\\frac{a}{b}` / `\\dfrac{a}{b}` / `\\tfrac{a}{b}` / `\\frac12` with canonical integers
  (a leading minus allowed). Commas, spaces, exponents, units, currency, percent, mixed numbers (`2\\frac12`),
  ranges (`3–5`) and arrows never match: they go to math-verify.
- or the answer text is `<plain prose> $N$.` (one math span, `math_span_answer`; the prose holds no "answer"
  unless it is exactly a lead like "The final answer is"), or nothing but a canonical integer or decimal
  (`bare_number`): math-verify reads N (every pattern that matches ends with the span or inside it; a bare
  number is read whole by its number extraction).
- the gold side is math-verify's own parse of the gold (cached by eval/verifiers/math.py): it must be exactly
  `[Integer or Rational, its string]`, and that string must be a canonical literal of the same value. A gold
  that is a bare canonical integer is known without parsing (`bare_number`: math-verify reads `[Integer, digits]`).

The verdict (`fast_verdict`), with no float anywhere (Python `Fraction`):
- equal values -> correct. math-verify agrees: equal rationals compare equal, and a decimal equal to a rational
  rounds equal at any precision.
- an integer or fraction answer of a different value -> wrong. math-verify compares two rationals exactly, and
  its string fallback cannot match (two canonical literals of different values are different strings).
- a decimal answer of a different value -> None: math-verify rounds floats to 6 digits (`1/3` = `0.333333`),
  so only math-verify may decide it. Everything else -> None as well.
The differential test (tests/eval/verifiers/test_math_differential.py) checks this against plain math-verify.
"""

from __future__ import annotations

import re
from fractions import Fraction

_INT = r"(?:0|[1-9]\d*)"
_DECIMAL = rf"{_INT}\.\d+"
_FRAC = rf"\\[dt]?frac\{{(?P<num>{_INT})\}}\{{(?P<den>[1-9]\d*)\}}|\\frac(?P<num1>\d)(?P<den1>[1-9])"
_LITERAL = re.compile(rf"(?P<minus>-)?(?:(?P<int>{_INT})|(?P<dec>{_DECIMAL})|{_FRAC})")
_PROSE = r"[A-Za-z0-9 \t\n,.:;!?'*=\-]*"
_ANSWER = re.compile(
    rf"(?P<prose>{_PROSE}?)(?P<open>\$\$|\$|\\\[|\\\()?\s*\\boxed\{{(?P<box>.*)\}}"
    rf"\s*(?P<close>\$\$|\$|\\\]|\\\))?\s*\.?\s*",
    re.DOTALL,
)
_CLOSING = {None: None, "$$": "$$", "$": "$", "\\[": "\\]", "\\(": "\\)"}
_NOT_IN_BOX = ("$", "\n", "\\boxed", "\\fbox", "\\)", "\\]")
MAX_DIGITS = 15


def boxed_answer(answer: str) -> str | None:
    """The content of the one box of a one-boxed-answer text (module docstring), else None.

    For such a text math-verify's extraction reads the box and nothing else whenever the content parses, so
    its parse equals the parse of `\\boxed{content}` alone: the content is the exact extracted text.
    """
    m = _ANSWER.fullmatch(answer)
    if m is None or _CLOSING[m["open"]] != m["close"] or "hope" in m["prose"].lower():
        return None
    box = m["box"]
    if any(s in box for s in _NOT_IN_BOX) or "hope" in box.lower() or not _balanced(box):
        return None
    return box


_ANSWER_LEADS = {"the final answer is", "final answer is", "final answer:", "the answer is", "answer:"}
_SPAN = re.compile(
    rf"(?P<prose>{_PROSE}?)(?:\$\$(?P<d2>[^$]*)\$\$|\$(?P<d1>[^$]*)\$|\\\((?P<p>.*)\\\)|\\\[(?P<b>.*)\\\])\s*\.?\s*",
    re.DOTALL,
)


def math_span_answer(answer: str) -> str | None:
    """The content of the one math span of `<prose> $X$.` (or `$$X$$`, `\\(X\\)`, `\\[X\\]`), else None.

    The prose (as for boxed_answer) has no "answer" unless it is exactly a lead such as "The final answer is":
    math-verify's final-answer / answer patterns (priorities 50-200) would otherwise read a number of the prose
    (`final answer is 3 so $\\frac34$` reads 3). Then every pattern that matches ends with the span or inside it,
    so the span is tried first; whenever X parses, math-verify's parse equals its parse of `$X$` alone. The prose
    must not end in a digit either: `5$3$` is not a math span for math-verify.
    """
    m = _SPAN.fullmatch(answer)
    if m is None or "hope" in m["prose"].lower() or m["prose"][-1:].isdigit():
        return None
    if "answer" in m["prose"].lower() and m["prose"].strip().lower() not in _ANSWER_LEADS:
        return None  # math-verify's "answer" patterns would read a number of the prose before the span
    span = next(g for g in (m["d2"], m["d1"], m["p"], m["b"]) if g is not None)
    if any(s in span for s in _NOT_IN_BOX + ("\\(", "\\[", "%")) or not _balanced(span):
        return None
    if "hope" in span.lower() or "answer" in span.lower():  # no priority-0..200 pattern may start inside it
        return None
    return span


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def literal_value(text: str) -> tuple[Fraction, str] | None:
    """(exact value, kind "int" | "frac" | "decimal") of a canonical literal (module docstring), else None."""
    m = _LITERAL.fullmatch(text)
    if m is None or text == "-0":
        return None
    sign = -1 if m["minus"] else 1
    if m["int"] is not None:
        return sign * Fraction(int(m["int"])), "int"
    if m["dec"] is not None:
        digits = m["dec"].replace(".", "").lstrip("0")
        if len(digits) > MAX_DIGITS or Fraction(m["dec"]) == 0:
            return None
        return sign * Fraction(m["dec"]), "decimal"
    num, den = (m["num"], m["den"]) if m["num"] is not None else (m["num1"], m["den1"])
    return sign * Fraction(int(num), int(den)), "frac"


def answer_literal(answer: str) -> tuple[Fraction, str] | None:
    """The literal math-verify extracts from `answer`: a one-boxed-number text, or a bare integer or decimal."""
    bare = bare_number(answer)
    if bare is not None:
        return bare
    inner = boxed_answer(answer)
    inner = math_span_answer(answer) if inner is None else inner
    return None if inner is None else literal_value(inner.strip())


def bare_number(text: str) -> tuple[Fraction, str] | None:
    """A text that is nothing but a canonical integer or decimal: math-verify's number extraction reads exactly it
    (no LaTeX environment, no other match), as an Integer (its own digits as the string) or a Float."""
    literal = literal_value(text.strip())
    return literal if literal is not None and literal[1] != "frac" else None


def gold_value(parsed_gold: list) -> Fraction | None:
    """The exact value of a gold that math-verify parsed to `[Integer or Rational, its canonical literal]`."""
    import sympy

    if len(parsed_gold) != 2 or not isinstance(parsed_gold[1], str):
        return None
    value, text = parsed_gold
    if not isinstance(value, sympy.Rational):  # Integer is a Rational; Float, percent products, sets are not
        return None
    literal = literal_value(text.strip())
    if literal is None or literal[1] == "decimal" or literal[0] != Fraction(int(value.p), int(value.q)):
        return None
    return literal[0]


def fast_verdict(gold: Fraction | None, answer: str) -> tuple[bool, str] | None:
    """(correct, reason) when exact arithmetic settles it the way math-verify would (module docstring), else None."""
    if gold is None:
        return None
    literal = answer_literal(answer)
    if literal is None:
        return None
    value, kind = literal
    if value == gold:
        return True, "equal numbers"
    return None if kind == "decimal" else (False, "wrong answer")
