"""Accuracy against token budget, read from the eval's saved samples: truncated at B = no answer at B."""

from __future__ import annotations

import json

import pytest

from eval.budget import budget_metrics, completion_verdicts, default_budgets
from eval.evaluate import task_metrics
from eval.tasks.r1 import r1_utils
from tests.eval.helpers import RESULTS, metrics, report_context

BUDGET = {"budgets": [60, 120, 240], "max_gen_toks": 240, "seed": 0}


def rows_for(correct_tokens: int, wrong_tokens: int, prompts: int = 10, k: int = 4) -> list[dict]:
    """k completions per prompt, the first three right (`correct_tokens` long), the last wrong."""
    return [{"task": "heldout", "doc_id": p, "prompt_id": f"p{p}", "sample_idx": i, "completion": "...",
             "answer": "x", "completion_tokens": correct_tokens if i < 3 else wrong_tokens, "truncated": False,
             "correct": i < 3, "prompt_acc": 0.75} for p in range(prompts) for i in range(k)]


def test_long_right_answers_lose_accuracy_at_a_small_budget():
    long = budget_metrics(rows_for(correct_tokens=150, wrong_tokens=40), [60, 120, 240], 240)
    short = budget_metrics(rows_for(correct_tokens=50, wrong_tokens=200), [60, 120, 240], 240)
    assert [m["acc"] for m in long] == [0.0, 0.0, 0.75]  # its right answers need 150 tokens
    assert [m["acc"] for m in short] == [0.75, 0.75, 0.75]  # same accuracy at the cap, kept at every budget
    assert [m["finished"] for m in long] == [0.25, 0.25, 1.0]
    assert all(m["acc_ci"][0] <= m["acc"] <= m["acc_ci"][1] for m in long + short)


def test_at_the_eval_cap_the_figure_is_the_leaderboards():
    rows = rows_for(150, 40, prompts=12)
    for p in range(0, 12, 3):  # some prompts all right, some all wrong: the CI is not a point
        for r in rows[4 * p:4 * p + 4]:
            r["correct"] = p % 2 == 0
    samples = [{"doc_id": p, "acc": sum(r["correct"] for r in rows[4 * p:4 * p + 4]) / 4} for p in range(12)]
    full = budget_metrics(rows, [240], 240, seed=5)[0]
    ev = task_metrics(samples, rows, 4, seed=5)
    assert full["acc"] == pytest.approx(ev["acc"]) and full["acc_ci"] == pytest.approx(ev["acc_ci"])


def test_a_log_without_verdicts_gives_no_figures():
    rows = rows_for(50, 50)
    rows[3]["correct"] = None  # an eval stage from before per-completion verdicts
    assert budget_metrics(rows, [60], 240) is None


def test_each_completion_of_a_mixed_prompt_is_scored_alone():
    doc = {"prompt_id": "p1", "prompt": "What is 1 + 1?", "gold": json.dumps("2"), "task": "math", "metadata": "{}"}
    texts = ["<think>1 + 1</think>2", "<think>1 + 1</think>3", "<think>1 + 1"]
    sample = {"doc_id": 0, "doc": doc, "resps": [texts], "filtered_resps": [texts], "acc": 1 / 3}
    assert completion_verdicts(sample, r1_utils.heldout_process_results) == [True, False, False]
    with pytest.raises(RuntimeError, match="lm-eval's acc was"):  # verdicts that disagree with lm-eval's mean
        completion_verdicts({**sample, "acc": 2 / 3}, r1_utils.heldout_process_results)
    everything = {**sample, "acc": 1.0}  # all right: no scoring needed
    assert completion_verdicts(everything, lambda *a: pytest.fail("scored")) == [True] * 3


def test_report_shows_accuracy_by_budget_table_and_plot(tmp_path):
    from eval.report import run

    results = {"teacher": RESULTS["teacher"], "long": metrics(0.75, 125.0), "short": metrics(0.75, 87.5)}
    samples = {"teacher": rows_for(150, 40), "long": rows_for(150, 40), "short": rows_for(50, 200)}
    ctx = report_context(tmp_path, results, samples=samples, budget=BUDGET)
    run(ctx)
    md = (ctx.out / "report.md").read_text()
    assert "## Accuracy by token budget" in md and "| student | heldout @60 acc % [95% CI] |" in md
    assert "| long | 0.0 [0.0, 0.0] | 0.0 [0.0, 0.0] | 75.0 [75.0, 75.0] |" in md
    assert "| short | 75.0 [75.0, 75.0] | 75.0 [75.0, 75.0] | 75.0 [75.0, 75.0] |" in md
    assert "![Accuracy by token budget](budget.png)" in md
    assert (ctx.out / "budget.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (ctx.out / "leaderboard.html").read_text()
    assert 'id="budget"' in page and 'id="budget-plot"' in page
    board = json.loads((ctx.out / "leaderboard.json").read_text())
    assert board["budget"]["results"]["long"]["heldout"][0]["acc"] == 0.0


def test_report_without_sample_verdicts_shows_dashes(tmp_path):
    from eval.report import run

    ctx = report_context(tmp_path, budget=BUDGET)  # results only, no sample logs
    run(ctx)
    md = (ctx.out / "report.md").read_text()
    assert "| long | - | - | - |" in md and not (ctx.out / "budget.png").exists()


def test_budgets_default_to_fractions_of_the_cap_and_do_not_touch_eval_hashes(tmp_path):
    from eval.config import EvalConfig
    from factory.graph import build_graph
    from factory.recipe import load_recipe
    from tests.conftest import minimal_recipe

    assert default_budgets(400) == [100, 200, 300, 400]
    with pytest.raises(ValueError, match="budgets: 500 must be in 1..max_gen_toks"):
        EvalConfig(tasks=["heldout"], max_gen_toks=400, budgets=[100, 500])

    def graph(**ev):
        import yaml

        path = tmp_path / "r.yaml"
        data = minimal_recipe()
        data["eval"].update(ev)
        path.write_text(yaml.safe_dump(data))
        return {s.name: s for s in build_graph(load_recipe(path))}

    default, custom = graph(max_gen_toks=400), graph(max_gen_toks=400, budgets=[50, 400])
    assert default["report"].config["budget"] == {"budgets": [100, 200, 300, 400], "max_gen_toks": 400, "seed": 0}
    assert custom["report"].config["budget"]["budgets"] == [50, 400]
    assert default["eval.long"].hash == custom["eval.long"].hash and default["report"].hash != custom["report"].hash


def test_published_page_shows_the_budget_plot_once_in_place(tmp_path):
    from types import SimpleNamespace

    from eval.report import run
    from factory.publish import publish_report

    ctx = report_context(tmp_path, {"teacher": RESULTS["teacher"], "long": metrics(0.75, 125.0)},
                         samples={"long": rows_for(150, 40)}, budget=BUDGET)
    run(ctx)
    (ctx.out / "manifest.json").write_text("{}")
    page = publish_report(SimpleNamespace(run_root=tmp_path / "runs" / "t"), ctx.out, tmp_path / "docs" / "res.md", "cmd")
    text = page.read_text()
    assert text.count("](res-budget.png)") == 1 and text.index("res-budget.png") < text.index("## Gates")
    assert (tmp_path / "docs" / "res-budget.png").exists()
