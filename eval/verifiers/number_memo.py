"""Memoized number literals for math-verify's parsers: `sympy.Number(text)` computed once per distinct text.

Both of math-verify's parsers turn every number they read into sympy with `sympy.Number(text)`: latex2sympy's
`_Latex2Sympy.parse_number` and `convert_number`, and math-verify's plain-number extraction
(`math_verify.parser`). For a string, `Number` goes through `sympify`, whose `parse_expr` runs
`exec("from sympy import *")` into a fresh namespace on every call: about half a millisecond per number, a fifth
of the factory's verification time on bench/bench_verify.py. `Number(text)` is a pure function of `text` and
its result is an immutable sympy atom (an Integer, a Rational or a Float whose precision comes from the text), so
returning the one computed for the same text earlier is exact: same value, same type, same `srepr`.

As with eval/verifiers/latex_two_stage.py, the switch is per call (`memoized_numbers()` sets a context variable),
so plain math-verify elsewhere in the process (the reference side of tests and benchmarks) is untouched. The
patch is installed once, on first use; if the pinned names are missing, numbers are parsed as before with a
warning. tests/eval/verifiers/test_number_memo.py checks it against plain `sympy.Number`.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from functools import lru_cache
from typing import Iterator

_active = contextvars.ContextVar("memoized_numbers", default=False)
_installed = False
MEMO_MAX = 65536


@contextlib.contextmanager
def memoized_numbers() -> Iterator[None]:
    """Inside this block, math-verify's parsers reuse `sympy.Number` results per literal text (module docstring)."""
    _install()
    token = _active.set(True)
    try:
        yield
    finally:
        _active.reset(token)


@lru_cache(maxsize=MEMO_MAX)
def _number(text: str):
    import sympy

    return sympy.Number(text)


def number(value):
    """`sympy.Number(value)`, memoized for strings while `memoized_numbers()` is active."""
    import sympy

    if _active.get() and isinstance(value, str):
        return _number(value)
    return sympy.Number(value)


_original_parse_number = None


@lru_cache(maxsize=MEMO_MAX)
def _parsed_number(text: str):
    return _original_parse_number(None, text)  # latex2sympy's parse_number never reads `self`


def _parse_number(self, text):
    if _active.get() and isinstance(text, str):
        return _parsed_number(text)
    return _original_parse_number(self, text)


def _install() -> None:
    global _installed, _original_parse_number
    if _installed:
        return
    _installed = True
    try:
        import latex2sympy2_extended.latex2sympy2 as l2s
        import math_verify.parser as mv_parser

        _original_parse_number = l2s._Latex2Sympy.parse_number
        _ = (l2s.Number, mv_parser.Number)  # the module globals their parsers call
    except (ImportError, AttributeError) as error:  # another version: plain parsing, same verdicts
        warnings.warn(f"memoized number parsing is off ({error}); numbers parse at sympify speed", stacklevel=2)
        return
    l2s.Number = mv_parser.Number = number
    l2s._Latex2Sympy.parse_number = _parse_number


def clear() -> None:
    """Forget memoized numbers (benchmarks: every distinct literal is then paid for again)."""
    _number.cache_clear()
    _parsed_number.cache_clear()
