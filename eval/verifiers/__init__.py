"""Verifiers for teacher and student samples: format, math, code (sandboxed), procedural, language.

Public names other packages import: `judge(completion, prompt, cfg=None) -> {"correct", "reason", "verifier"}`,
`judge_answer(answer, prompt, cfg=None)`, `split_think(text) -> (reasoning, answer, format_ok, truncated)`,
`language_ok(reasoning, prompt, threshold)` and `language_share(reasoning, prompt_text)`.
"""

from eval.verifiers.format import split_think
from eval.verifiers.judge import VERIFIERS, judge, judge_answer
from eval.verifiers.language import language_ok, language_share

__all__ = ["VERIFIERS", "judge", "judge_answer", "language_ok", "language_share", "split_think"]
