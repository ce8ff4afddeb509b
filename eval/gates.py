"""Gates: thresholds from the recipe that decide which students ship.

A rule is `<task>.<metric> <op> <rhs>` where rhs is a number or `[f *] baseline.<task>.<metric> [+|- c]`,
e.g. `heldout.acc >= 0.3`, `heldout.acc >= baseline.heldout.acc - 0.01`,
`heldout.tokens <= 0.6 * baseline.heldout.tokens`. Metrics: acc, tokens, truncated.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

METRICS = ("acc", "tokens", "truncated")
OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_NAME = r"[A-Za-z0-9_\-]+"
_REF = rf"({_NAME})\.({_NAME})"
_RULE = re.compile(
    rf"^\s*{_REF}\s*(>=|<=|==|>|<)\s*"
    rf"(?:(?P<num>-?\d+(?:\.\d+)?(?:e-?\d+)?)|"
    rf"(?:(?P<factor>\d+(?:\.\d+)?)\s*\*\s*)?baseline\.(?P<btask>{_NAME})\.(?P<bmetric>{_NAME})"
    rf"(?:\s*(?P<sign>[+-])\s*(?P<offset>\d+(?:\.\d+)?))?)\s*$"
)


@dataclass(frozen=True)
class Rule:
    text: str
    task: str
    metric: str
    op: str
    value: float | None = None
    factor: float = 1.0
    baseline_task: str | None = None
    baseline_metric: str | None = None
    offset: float = 0.0

    def tasks(self) -> list[str]:
        return [self.task] + ([self.baseline_task] if self.baseline_task else [])

    def uses_baseline(self) -> bool:
        return self.baseline_task is not None

    def threshold(self, baseline: dict | None) -> float:
        if not self.uses_baseline():
            return self.value
        if baseline is None:
            raise ValueError(f"rule '{self.text}' needs baseline results")
        return self.factor * baseline[self.baseline_task][self.baseline_metric] + self.offset

    def check(self, results: dict, baseline: dict | None = None) -> tuple[bool, str]:
        """results: {task: {metric: value}}. Returns (passed, one-line explanation)."""
        actual = results[self.task][self.metric]
        limit = self.threshold(baseline)
        ok = bool(OPS[self.op](actual, limit))
        return ok, f"{self.task}.{self.metric} = {actual:.4g} {'meets' if ok else 'fails'} {self.op} {limit:.4g}"


def parse_rule(text: str) -> Rule:
    m = _RULE.match(text)
    if not m:
        raise ValueError(
            f"cannot parse rule {text!r}; expected '<task>.<metric> <op> <number>' or "
            "'<task>.<metric> <op> [f *] baseline.<task>.<metric> [+|- c]'"
        )
    task, metric, op = m.group(1), m.group(2), m.group(3)
    for mt in (metric, m.group("bmetric")):
        if mt is not None and mt not in METRICS:
            raise ValueError(f"unknown metric '{mt}' in {text!r}; expected one of {', '.join(METRICS)}")
    if m.group("num") is not None:
        return Rule(text, task, metric, op, value=float(m.group("num")))
    offset = float(m.group("offset") or 0.0) * (-1 if m.group("sign") == "-" else 1)
    return Rule(text, task, metric, op, factor=float(m.group("factor") or 1.0),
                baseline_task=m.group("btask"), baseline_metric=m.group("bmetric"), offset=offset)
