"""What a run shows, in words a reader can check: the micro recipe's scientific read-out.

Reads a finished run (the report artifact, the datasets stats, the student manifests) and writes the
DESIGN.md "When is the micro result meaningful?" checks, the Kimi-style long2short table against the
long SFT student, and the R1 distillation-vs-RL comparison. Every number comes from an artifact;
`factory report RECIPE --publish docs/micro-results.md` regenerates the page (never edited by hand).
"""

from __future__ import annotations

import json
from pathlib import Path

# How the distillation-vs-RL arms read, by the kind of job (a kind not listed shows its name).
METHODS = {"sft": "SFT on the teacher's rejection-sampled data",
           "grpo": "GRPO alone from the same base (rule-based rewards)",
           "distill": "on-policy distillation (the student samples; the teacher, or the job's `teacher:` student, "
                      "scores every token)"}


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _metric(results: dict, label: str, task: str) -> dict | None:
    return (results.get(label) or {}).get(task)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _acc_ci(m: dict) -> str:
    return f"{_pct(m['acc'])} [{_pct(m['acc_ci'][0])}, {_pct(m['acc_ci'][1])}]"


def _labels(produced: dict, job: str) -> list[str]:
    """The student labels one job produced (a merge sweep makes several)."""
    return [s.removeprefix("student.") for s in produced.get(job, [f"student.{job}"])]


def long2short_group(report_config: dict) -> tuple[str | None, list[str]]:
    """(the long student, the labels gated against it): the first gate whose baseline is a student."""
    produced = report_config.get("produced") or {}
    for gate in report_config.get("gates") or []:
        baseline, students = gate.get("baseline"), gate.get("students")
        if baseline and baseline != "teacher" and isinstance(students, list):
            return baseline, [label for job in students for label in _labels(produced, job)]
    return None, []


def distill_vs_rl_arms(report_config: dict) -> list[tuple[str, str]]:
    """(label, method) of the students that start from a pretrained stand-in base, in recipe order."""
    return [(name, METHODS.get(entry.get("kind"), entry.get("kind", "")))
            for name, entry in (report_config.get("lineage") or {}).items()
            if (entry.get("init") or {}).get("bootstrap")]


def meaningful_checks(results: dict, stats: dict, task: str, long_label: str) -> list[tuple[str, str, bool]]:
    """DESIGN.md's conditions for a micro result worth reading: (condition, measured, met)."""
    teacher = _metric(results, "teacher", task) or {}
    long = _metric(results, long_label, task) or {}
    ratio = (stats.get("samples") or {}).get("median_correct_length_ratio")
    t_acc = teacher.get("acc", 0.0)
    rows = [
        ("teacher held-out accuracy in [40 %, 90 %]", f"{_pct(t_acc)} %", 0.4 <= t_acc <= 0.9),
        ("median prompt: longest correct sample >= 2x its shortest", f"{ratio:.2f}x" if ratio else "n/a",
         bool(ratio and ratio >= 2.0)),
        (f"long SFT student ({long_label}) >= half the teacher's accuracy", f"{_pct(long.get('acc', 0))} %",
         long.get("acc", 0.0) >= 0.5 * t_acc),
        (">= 200 held-out prompts, k >= 4 samples each", f"{teacher.get('n_prompts', 0)} prompts, k = {teacher.get('k', 0)}",
         teacher.get("n_prompts", 0) >= 200 and teacher.get("k", 0) >= 4),
    ]
    return rows


def long2short_rows(results: dict, gates: dict, task: str, long_label: str, members: list[str]) -> list[dict]:
    """Each long2short student vs the long student, as numbers: accuracy, tokens, Δacc, token cut, iso, gate."""
    long = _metric(results, long_label, task)
    if not long:
        return []
    lo, hi = long["acc_ci"]
    rows = []
    for label in sorted(results):
        if label not in members and label != long_label:
            continue
        m = _metric(results, label, task)
        if not m:
            continue
        gate = gates.get(label, {})
        rows.append({"label": label, "metric": m, "delta": m["acc"] - long["acc"],
                     "cut": 1 - m["tokens"] / long["tokens"] if long["tokens"] else 0.0,
                     "iso": lo <= m["acc"] <= hi,
                     "status": "ship" if gate.get("ship") else ("pass" if gate.get("passed") else "fail")})
    return rows


def _long2short_cells(row: dict) -> list[str]:
    m = row["metric"]
    return [row["label"], _acc_ci(m), f"{m['tokens']:.1f}", f"{100 * row['delta']:+.1f}", f"{100 * row['cut']:+.1f} %",
            "yes" if row["iso"] else "no", row["status"]]


def distill_vs_rl_rows(results: dict, manifests: dict, task: str, arms: list[tuple[str, str]]) -> list[list[str]]:
    rows = []
    bases = [(label, "the shared starting point (a pretrained stand-in base)") for label in sorted(results)
             if label.startswith("base.")]
    for label, method in bases + arms:
        m = _metric(results, label, task)
        summary = (manifests.get(f"student.{label}") or {}).get("summary", {})
        if m:
            rows.append([label, method, _acc_ci(m), f"{m['tokens']:.1f}", str(summary.get("train_tokens", "n/a"))])
    return rows


def label_kinds(report_config: dict) -> dict[str, str]:
    """Student label -> job kind (a merge sweep's labels take their job's kind)."""
    produced = report_config.get("produced") or {}
    return {label: entry.get("kind", "") for name, entry in (report_config.get("lineage") or {}).items()
            for label in _labels(produced, name)}


def long2short_goals(l2s: list[dict], long_label: str, kinds: dict[str, str]) -> list[tuple[str, str, bool]]:
    """The long2short goals, from numbers: (goal, who meets it or the best try, met)."""
    def within(r, cut):
        return r["label"] != long_label and r["cut"] >= cut and r["delta"] >= -0.01

    def best(rows):
        r = max(rows, key=lambda r: r["delta"], default=None)
        if r is None:
            return "no such student"
        return f"best: {r['label']} {100 * r['delta']:+.1f} pts at {100 * r['cut']:.1f} % fewer tokens"

    goals = []
    for goal, cut, rows in [
            ("Kimi: >= 50 % fewer tokens at <= 1 pt accuracy loss", 0.5, l2s),
            (">= 60 % fewer tokens at <= 1 pt accuracy loss", 0.6, l2s),
            ("length RL (GRPO) within 1 pt at >= 40 % fewer tokens", 0.4,
             [r for r in l2s if kinds.get(r["label"]) == "grpo"]),
            ("DPO within 1 pt at fewer tokens", 1e-9, [r for r in l2s if kinds.get(r["label"]) == "dpo"])]:
        met = [r["label"] for r in rows if within(r, cut)]
        goals.append((goal, ", ".join(met) if met else best([r for r in rows if r["cut"] >= cut] or rows), bool(met)))
    return goals


def distill_vs_rl_goals(results: dict, task: str, arms: list[tuple[str, str]], kinds: dict[str, str]):
    """R1's claims on the arms: RL alone improves its base, distillation (SFT) beats RL alone."""
    acc = {label: m["acc"] for label in results if (m := _metric(results, label, task))}
    base = next((acc[label] for label in sorted(acc) if label.startswith("base.")), None)
    by_kind = {kind: [label for label, _ in arms if kinds.get(label) == kind and label in acc]
               for kind in ("grpo", "sft", "distill")}
    rl = max((acc[label] for label in by_kind["grpo"]), default=None)
    sft = max((acc[label] for label in by_kind["sft"]), default=None)
    fmt = lambda x: "n/a" if x is None else f"{_pct(x)} %"  # noqa: E731
    return [("RL alone improves on its base", f"{fmt(rl)} vs base {fmt(base)}",
             rl is not None and base is not None and rl > base),
            ("distillation (SFT) beats RL alone", f"{fmt(sft)} vs {fmt(rl)}", sft is not None and rl is not None and sft > rl),
            ("an on-policy distillation arm is measured", ", ".join(f"{x} {fmt(acc[x])}" for x in by_kind["distill"])
             or "none", bool(by_kind["distill"]))]


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def render(report_dir: Path, run_root: Path, task: str = "heldout", long_label: str | None = None) -> str:
    """The findings page for a finished run (markdown)."""
    board = _load(report_dir / "leaderboard.json")
    results, gates = board.get("results", {}), board.get("gates", {})
    from eval.report import manifests_behind

    manifests = manifests_behind(report_dir)  # this run's stages only, not older hashes in the folder
    datasets_dir = (((manifests.get("report") or {}).get("inputs") or {}).get("datasets") or {}).get("dir")
    stats = _load(run_root / datasets_dir / "stats.json") if datasets_dir else {}
    report_config = (manifests.get("report") or {}).get("config") or {}
    gated_long, members = long2short_group(report_config)
    lineage = report_config.get("lineage") or {}
    long_label = long_label or gated_long or next((n for n, e in lineage.items() if e.get("kind") == "sft"), "")
    checks = meaningful_checks(results, stats, task, long_label)
    l2s = long2short_rows(results, gates, task, long_label, members)
    kinds, arms = label_kinds(report_config), distill_vs_rl_arms(report_config)
    goals = long2short_goals(l2s, long_label, kinds) + distill_vs_rl_goals(results, task, arms, kinds)
    parts = ["## Findings", "",
             "### Is the result meaningful? (DESIGN.md conditions)", "",
             _table(["condition", "measured", "met"], [[c, v, "yes" if ok else "**no**"] for c, v, ok in checks]), "",
             f"### Long2short vs the long SFT student ({task}, accuracy in %, 95 % bootstrap CI over prompts)", "",
             _table(["student", "accuracy [CI]", "mean tokens", "Δacc (pts)", "token cut", "inside long's CI",
                     "gate"], [_long2short_cells(r) for r in l2s]), "",
             "### Distillation vs RL (R1) for a student smaller than the teacher", "",
             _table(["student", "method", "accuracy [CI]", "mean tokens", "train tokens"],
                    distill_vs_rl_rows(results, manifests, task, arms)), "",
             "### Goals (Kimi k1.5, R1; issue 18), from the numbers above (point estimates; see the CIs)", "",
             _table(["goal", "measured", "met"], [[g, v, "yes" if ok else "**no**"] for g, v, ok in goals]), ""]
    return "\n".join(parts)
