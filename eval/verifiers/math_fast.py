"""The math verifier's fast path: decide cheap cases without sympy, defer everything else to math-verify.

A teacher's samples are mostly plain numbers and simple closed forms; math-verify (sympy + an ANTLR LaTeX
parser) costs milliseconds per pair. Here:
- `normalize`: strip `$`, spacing macros, `\\left`/`\\right`, whitespace, a trailing period; ascii minus for
  the unicode one; `\\dfrac`/`\\tfrac` -> `\\frac`.
- `exact_number`: integers, decimals, `a/b`, `\\frac{a}{b}`, `\\frac12` as exact rationals.
- `constant_value`: the float value of a constant expression built only from numbers, + - * / ^, braces,
  parentheses, `\\frac`, `\\sqrt`, `\\pi`, `\\cdot`, `\\times` and implicit products (`3\\sqrt{2}`,
  `\\frac{3}{4}\\pi`); None for anything else (variables, sets, units, intervals, text).
- `bracketed_values`: intervals and tuples of such constants (`(-3, 84]`, `[0, \\infty)`, `(1, \\frac12)`),
  compared bracket by bracket and element by element.
`fast_verdict` returns a verdict only when these settle the question; otherwise None (ask math-verify).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_SPACES = re.compile(r"\\[,;:! ]|\\quad|\\qquad|\\displaystyle|\\left|\\right|\s+")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_SLASH = re.compile(r"^([+-]?)(\d+)/(\d+)$")
_FRAC = re.compile(r"^([+-]?)\\frac(?:\{([+-]?\d+)\}|(\d))(?:\{(\d+)\}|(\d))$")
_TOKEN = re.compile(r"\d+\.?\d*|\.\d+|\\frac|\\sqrt|\\pi|\\cdot|\\times|[-+*/^(){}]")
_PRIMARY_START = ("\\frac", "\\sqrt", "\\pi", "(", "{")
_BRACKETED = re.compile(r"^([\[(])([^\[\]()]*)([\])])$")
_INFINITY = {"\\infty": math.inf, "+\\infty": math.inf, "-\\infty": -math.inf}


def normalize(text: str) -> str:
    text = text.replace("\u2212", "-").replace("\u2013", "-").replace("$", "")
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return _SPACES.sub("", text).rstrip(".")


def exact_number(text: str) -> Fraction | None:
    if _NUMBER.match(text):
        return Fraction(text)
    m = _SLASH.match(text) or _FRAC.match(text)
    if not m:
        return None
    sign, *parts = m.groups()
    num, den = [p for p in parts if p is not None]
    if int(den) == 0:
        return None
    value = Fraction(int(num), int(den))
    return -value if sign == "-" else value


def constant_value(text: str) -> float | None:
    """Float value of a simple constant LaTeX expression (see module docstring), else None."""
    tokens = _TOKEN.findall(text)
    if not tokens or "".join(tokens) != text:
        return None
    try:
        parser = _Parser(tokens)
        value = parser.expr()
        return value if parser.done() and math.isfinite(value) else None
    except (ValueError, ZeroDivisionError, OverflowError, IndexError):
        return None


def bracketed_values(text: str) -> tuple[str, list[float], str] | None:
    """(open bracket, element values, close bracket) of an interval or tuple of constants, else None."""
    m = _BRACKETED.match(text)
    if not m or "," not in m.group(2):
        return None
    values = [_INFINITY.get(e, None) if e in _INFINITY else constant_value(e) for e in m.group(2).split(",")]
    return None if any(v is None for v in values) else (m.group(1), values, m.group(3))


def _far_apart(x: float, y: float) -> bool:
    """Too far apart for one to be a rounding of the other (math-verify rounds to 6 digits)."""
    return abs(x - y) > 1e-4 * max(1.0, abs(x), abs(y))


def _same_values(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(x == y or math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12) for x, y in zip(a, b))


class _Parser:
    """Recursive descent over LaTeX tokens: expr := term (+|- term)*; term := factor (*|/|implicit factor)*."""

    def __init__(self, tokens: list[str]):
        self.tokens, self.i = tokens, 0

    def done(self) -> bool:
        return self.i == len(self.tokens)

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        self.i += 1
        return self.tokens[self.i - 1]

    def expr(self) -> float:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> float:
        value = self.factor()
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times", "/"):
                op = self.take()
                value = value / self.factor() if op == "/" else value * self.factor()
            elif tok is not None and (tok in _PRIMARY_START or tok[0].isdigit() or tok[0] == "."):
                value *= self.factor()
            else:
                return value

    def factor(self) -> float:
        if self.peek() in ("-", "+"):
            return -self.factor() if self.take() == "-" else self.factor()
        base = self.primary()
        if self.peek() == "^":
            self.take()
            exponent = self.argument()
            if abs(exponent) > 1000:
                raise OverflowError
            return float(base**exponent)
        return base

    def argument(self) -> float:
        """A macro argument: `{expr}` or a single digit (`\\frac12`, `2^3`)."""
        tok = self.peek()
        if tok == "{":
            return self.primary()
        if tok is not None and tok.isdigit():
            self.tokens[self.i] = tok[1:]
            if not self.tokens[self.i]:
                self.i += 1
            return float(tok[0])
        return self.primary()

    def primary(self) -> float:
        tok = self.take()
        if tok in ("(", "{"):
            value = self.expr()
            if self.take() != {"(": ")", "{": "}"}[tok]:
                raise ValueError("unbalanced")
            return value
        if tok == "\\frac":
            return self.argument() / self.argument()
        if tok == "\\sqrt":
            return math.sqrt(self.argument())
        if tok == "\\pi":
            return math.pi
        if tok[0].isdigit() or tok[0] == ".":
            return float(tok)
        raise ValueError(f"unexpected {tok}")


def fast_verdict(gold: str, pred: str) -> tuple[bool, str] | None:
    """(correct, reason) for normalized gold and prediction when the cheap checks are conclusive, else None."""
    if gold == pred:
        return True, "exact match"
    g, p = exact_number(gold), exact_number(pred)
    if g is not None and p is not None:
        if g == p:
            return True, "equal numbers"
        return (False, "wrong answer") if "." not in gold + pred or _far_apart(float(g), float(p)) else None
    gb, pb = bracketed_values(gold), bracketed_values(pred)
    if gb is not None and pb is not None:
        equal = gb[0] == pb[0] and gb[2] == pb[2] and _same_values(gb[1], pb[1])
    else:
        gv, pv = constant_value(gold), constant_value(pred)
        if gv is None or pv is None:
            return None
        equal = _same_values([gv], [pv])
        gb, pb = ("", [gv], ""), ("", [pv], "")
    if equal:
        return True, "equal values"
    # a decimal may be a rounding of the exact value: math-verify's rounding rules decide the close calls
    far = len(gb[1]) != len(pb[1]) or any(_far_apart(x, y) for x, y in zip(gb[1], pb[1]))
    return (False, "wrong answer") if "." not in gold + pred or far else None
