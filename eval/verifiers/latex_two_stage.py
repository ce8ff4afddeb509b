"""Two-stage ANTLR parsing for math-verify's LaTeX parser: SLL prediction first, full LL only when SLL fails.

math-verify reads LaTeX with latex2sympy2_extended, an ANTLR 4 grammar run by the pure-Python runtime in full
LL prediction mode. Most of the factory's verification time was spent there, in full-context prediction
(`execATNWithFullContext`), whose results ANTLR never caches. ANTLR's documented remedy is two-stage parsing
(PredictionMode.SLL javadoc, and "The Definitive ANTLR 4 Reference" 13.7): in SLL mode "the parser will either
return a correct parse tree (i.e. the same parse tree that would be returned with the LL prediction mode), or it
will report a syntax error"; on an error, parse again in LL mode. latex2sympy's error listeners raise on the
first syntax error, so an SLL attempt either yields LL's own tree or raises, and then the unchanged LL parse runs.
The verdict is therefore math-verify's; only the time changes (docs/benchmarks.md, bench/bench_verify.py).

The switch is per call (`two_stage()` sets a context variable): plain math-verify elsewhere in the process (the
reference side of tests and benchmarks) keeps LL. The patch is installed once, on first use; it wraps
`_Latex2Sympy.create_parser` and `_Latex2Sympy.parse`, whose signatures are those of the pinned
latex2sympy2_extended (requirements.lock); if they are missing, parsing stays LL with a warning.
tests/eval/verifiers/test_latex_two_stage.py checks it against LL.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from typing import Iterator

_two_stage = contextvars.ContextVar("latex_two_stage", default=False)
_sll = contextvars.ContextVar("latex_sll_attempt", default=False)
_installed = False


@contextlib.contextmanager
def two_stage() -> Iterator[None]:
    """Inside this block, math-verify's LaTeX parses try SLL first (module docstring)."""
    _install()
    token = _two_stage.set(True)
    try:
        yield
    finally:
        _two_stage.reset(token)


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    try:
        from antlr4.atn.PredictionMode import PredictionMode
        from latex2sympy2_extended.latex2sympy2 import _Latex2Sympy

        create_parser, parse = _Latex2Sympy.create_parser, _Latex2Sympy.parse
    except (ImportError, AttributeError) as error:  # another latex2sympy2_extended: plain LL, same verdicts
        warnings.warn(f"two-stage LaTeX parsing is off ({error}); math verification runs at LL speed", stacklevel=2)
        return

    def create_parser_sll_when_asked(self, latex_str):
        parser = create_parser(self, latex_str)
        if _sll.get():
            parser._interp.predictionMode = PredictionMode.SLL
        return parser

    def parse_two_stage(self, latex_str):
        if not _two_stage.get():
            return parse(self, latex_str)
        token = _sll.set(True)
        try:
            return parse(self, latex_str)
        except Exception:  # an SLL syntax error (or a conversion error LL will raise again): parse with LL
            pass
        finally:
            _sll.reset(token)
        return parse(self, latex_str)

    _Latex2Sympy.create_parser = create_parser_sll_when_asked
    _Latex2Sympy.parse = parse_two_stage
