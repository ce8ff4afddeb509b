"""Imported once by the verifier pool's fork server: importing it loads and warms every verifier.

math-verify's first call costs 1-2 s (sympy, the ANTLR LaTeX grammar). The fork server imports this module
once and forks each worker from that warm state, so N workers pay it once instead of N times.
"""

import eval.verifiers.code  # noqa: F401
import eval.verifiers.procedural  # noqa: F401
from eval.verifiers.math import math_verify_equal

math_verify_equal("\\frac{1}{2}", "$x+1$")
