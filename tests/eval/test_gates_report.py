"""Gates (absolute, relative to a baseline, merge-sweep selection) and the report stage's files."""

from __future__ import annotations

import json

import pytest

from eval import gates
from tests.eval.helpers import GATES, PRODUCED, RESULTS, metrics, report_context

RES = {label: {"heldout": m} for label, m in RESULTS.items()}


def test_absolute_and_relative_rules():
    ok = gates.check_student("long", "long", RES, [{"students": "*", "rules": ["heldout.acc >= 0.45"]}], PRODUCED)
    assert ok["passed"] and "meets >= 0.45" in ok["reasons"][0]
    bad = gates.check_student("short", "short", RES, GATES, PRODUCED)
    assert not bad["passed"] and "fails >= 0.3" in bad["reasons"][0]  # 0.5 * teacher 0.6
    rel = gates.check_student("merge-w075", "merge", RES, GATES, PRODUCED)
    assert not rel["passed"] and any("fails >= 0.45" in r for r in rel["reasons"])  # long 0.50 - 0.05


def test_missing_student_or_task_fails_with_reason():
    never = gates.check_student("ghost", "ghost", RES, GATES, PRODUCED)
    assert never == {"passed": False, "reasons": ["ghost was never evaluated"]}
    other = gates.check_student("long", "long", RES, [{"students": "*", "rules": ["aime.acc >= 0.1"]}], PRODUCED)
    assert not other["passed"] and "no results for task 'aime'" in other["reasons"][0]


def test_merge_sweep_ships_only_its_pareto_pick():
    decided = gates.decide(RES, GATES, PRODUCED)
    # w025 (0.49, 90 tok) and w050 (0.47, 70 tok) pass; w050 is within w025's CI with fewer tokens
    assert decided["merge-w025"]["passed"] and decided["merge-w050"]["passed"]
    assert decided["merge-w050"]["ship"] and not decided["merge-w025"]["ship"]
    assert not decided["merge-w075"]["ship"] and not decided["short"]["ship"]
    assert decided["long"]["ship"]
    assert "teacher" not in decided


def test_pareto_pick_prefers_accuracy_when_the_short_one_is_clearly_worse():
    res = {"a": {"t": metrics(0.8, 100, ci=0.02)}, "b": {"t": metrics(0.6, 50, ci=0.02)}}
    assert gates.pick_pareto_candidate(["a", "b"], res) == "a"


def test_pareto_frontier():
    from eval.plot import pareto_frontier

    pts = {"a": (0.5, 100.0), "b": (0.4, 50.0), "c": (0.3, 80.0), "d": (0.5, 120.0)}
    assert pareto_frontier(pts) == ["b", "a"]


def test_report_writes_gates_table_and_plot(tmp_path):
    from eval.report import run

    ctx = report_context(tmp_path)
    summary = run(ctx)
    decided = json.loads((ctx.out / "gates.json").read_text())
    assert summary["ship"] == ["long", "merge-w050"] and decided["short"]["passed"] is False
    md = (ctx.out / "report.md").read_text()
    assert "| merge-w050 | 47.0 [42.0, 52.0] | 70 | 0% | ship |" in md
    assert "| short | 20.0 [15.0, 25.0] | 40 | 0% | fail |" in md
    assert "method merge, merge of long + short" in md and "teacher some-org/teacher" in md
    assert "| 24 | 66.7% |" in md  # teacher samples: 24 rows, 16 correct
    assert "| verify | 2.0 | 50.0 samples_per_s |" in md and "| eval.long | 3.0 | 321.0 tokens_per_s |" in md
    page = (ctx.out / "leaderboard.html").read_text()
    assert 'id="leaderboard"' in page and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page
    assert (ctx.out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cross_recipe_leaderboard(tmp_path):
    from eval.leaderboard import cross_recipe
    from eval.report import run

    for name in ("r1", "r2"):
        ctx = report_context(tmp_path, recipe=name)
        run(ctx)
        ctx.out.rename(ctx.out.with_name("report-aaaa"))
        (ctx.out.with_name("report-aaaa") / "manifest.json").write_text("{}")
    md, html_path = cross_recipe(tmp_path / "runs", tmp_path / "board")
    text = md.read_text()
    assert "| r1/long |" in text and "| r2/merge-w050 |" in text
    assert 'id="leaderboard"' in html_path.read_text()
    with pytest.raises(FileNotFoundError, match="no complete report"):
        cross_recipe(tmp_path / "empty", tmp_path / "board2")


def test_leaderboard_lists_an_ungated_base_as_reference_not_as_a_failed_student():
    from eval.leaderboard import student_rows

    data = {"results": {"teacher": {}, "base.distill": {}, "long": {}},
            "gates": {"long": {"passed": False, "ship": False, "reasons": ["too low"]}},
            "lineage_text": {}}
    status = {r["label"]: r["status"] for r in student_rows(data)}
    assert status == {"teacher": "baseline", "base.distill": "reference", "long": "fail"}
