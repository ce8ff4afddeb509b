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


# ---- applying gates to evaluated students (stage `report`) ---------------------------------------------------

TEACHER = "teacher"


def job_of(label: str, produced: dict[str, list[str]]) -> str:
    """Student job that produced an eval label (`merge-w050` -> `merge`); the label itself otherwise."""
    for job, stages in produced.items():
        if f"student.{label}" in stages:
            return job
    return label


def _baseline_label(baseline: str, produced: dict[str, list[str]]) -> str:
    if baseline == TEACHER:
        return TEACHER
    stages = produced.get(baseline, [f"student.{baseline}"])
    return stages[len(stages) // 2].removeprefix("student.")  # a merge sweep as baseline: its middle candidate


def gates_for(label: str, job: str, gates: list[dict]) -> list[dict]:
    return [g for g in gates if g.get("students", "*") == "*" or job in g["students"] or label in g["students"]]


def check_student(label: str, job: str, results: dict[str, dict], gates: list[dict],
                  produced: dict[str, list[str]]) -> dict:
    """{passed, reasons[]} for one evaluated student; `results` maps label -> {task: metrics}."""
    own = results.get(label)
    if own is None:
        return {"passed": False, "reasons": [f"{label} was never evaluated"]}
    reasons, passed = [], True
    for gate in gates_for(label, job, gates):
        base = None
        if gate.get("baseline"):
            base_label = _baseline_label(gate["baseline"], produced)
            base = results.get(base_label)
            if base is None:
                passed = False
                reasons.append(f"baseline '{base_label}' has no eval results")
                continue
        for text in gate["rules"]:
            rule = parse_rule(text)
            missing = [t for t in [rule.task] if t not in own] + (
                [t for t in [rule.baseline_task] if rule.uses_baseline() and t not in base] if base else [])
            if missing:
                passed = False
                reasons.append(f"{text}: no results for task '{missing[0]}'")
                continue
            ok, why = rule.check(own, base)
            passed &= ok
            reasons.append(why + (f" (baseline {gate['baseline']})" if rule.uses_baseline() else ""))
    if not reasons:
        reasons.append("no gate applies")
    return {"passed": passed, "reasons": reasons}


def mean_metric(tasks: dict[str, dict], metric: str) -> float:
    return sum(t[metric] for t in tasks.values()) / max(len(tasks), 1)


def pick_pareto_candidate(candidates: list[str], results: dict[str, dict]) -> str | None:
    """Among gate-passing merge candidates: the fewest tokens at iso-accuracy with the most accurate one.

    Kimi k1.5 (long2short merging): sweep the merge weight and pick the Pareto point. Here "iso-accuracy" means
    mean accuracy at or above the lower end of the best candidate's 95 % bootstrap interval.
    """
    if not candidates:
        return None
    best = max(candidates, key=lambda c: mean_metric(results[c], "acc"))
    floor = sum(t["acc_ci"][0] for t in results[best].values()) / max(len(results[best]), 1)
    tied = [c for c in candidates if mean_metric(results[c], "acc") >= floor]
    return min(tied, key=lambda c: (mean_metric(results[c], "tokens"), -mean_metric(results[c], "acc")))


def decide(results: dict[str, dict], gates: list[dict], produced: dict[str, list[str]]) -> dict[str, dict]:
    """gates.json: {label: {passed, reasons, job, ship}} for every student label; `ship` = release it.

    A merge job ships only its selected candidate (`selected` names it); other jobs ship when they pass.
    """
    out = {}
    for job, stages in produced.items():
        labels = [s.removeprefix("student.") for s in stages]
        for label in labels:
            out[label] = {"job": job, **check_student(label, job, results, gates, produced)}
        if len(labels) > 1:
            chosen = pick_pareto_candidate([lb for lb in labels if out[lb]["passed"]], results)
            for label in labels:
                out[label]["ship"] = label == chosen
                out[label]["selected"] = chosen
                if out[label]["passed"] and label != chosen:
                    out[label]["reasons"].append(f"not the Pareto pick of merge sweep '{job}' ({chosen})")
        else:
            out[labels[0]]["ship"] = out[labels[0]]["passed"]
    return out
