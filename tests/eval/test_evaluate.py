"""The eval stage on a tiny offline model with lm-eval: results.json contract, sample logs, the R1 no-answer rule."""

from __future__ import annotations

import json

from eval.tasks.r1 import r1_utils
from tests.eval.helpers import EVAL_CFG, eval_context


def test_completion_without_think_end_has_no_answer():
    doc = {"prompt_id": "p1", "prompt": "What is 1 + 1?", "gold": json.dumps("2"), "task": "math",
           "metadata": "{}"}
    cut = r1_utils.heldout_process_results(doc, [["<think>1 + 1 = 2 so the answer is 2"]])
    assert cut == {"acc": 0.0, "truncated": 1.0}
    bare = r1_utils.heldout_process_results(doc, [["2"]])  # right text, but no </think>: no answer
    assert bare["acc"] == 0.0
    both = r1_utils.heldout_process_results(doc, [["<think>1 + 1</think>2", "<think>1 + 1"]])
    assert both == {"acc": 0.5, "truncated": 0.5}
    assert r1_utils.answer_filter([["<think>a</think> 7", "<think>a"]], [doc]) == [["7", r1_utils.NO_ANSWER]]


def test_eval_stage_writes_results_and_samples(tmp_path, tiny_model_dir):
    from eval.evaluate import run

    ctx = eval_context(tmp_path, tiny_model_dir)
    summary = run(ctx)
    results = json.loads((ctx.out / "results.json").read_text())
    assert results["label"] == "long"
    m = results["tasks"]["heldout"]
    assert set(m) == {"acc", "acc_ci", "tokens", "truncated", "n_prompts", "k"}
    assert m["n_prompts"] == 4 and m["k"] == EVAL_CFG["k"]
    # tokens are counted by re-tokenizing the text (a random model's broken UTF-8 re-encodes longer)
    assert m["tokens"] == sum(r["completion_tokens"] for r in rows_of(ctx)) / (4 * EVAL_CFG["k"]) > 0
    assert 0.0 <= m["truncated"] <= 1.0 and m["acc_ci"][0] <= m["acc"] <= m["acc_ci"][1]
    rows = [json.loads(line) for line in (ctx.out / "samples" / "heldout.jsonl").read_text().splitlines()]
    assert len(rows) == 4 * EVAL_CFG["k"]
    assert {r["prompt_id"] for r in rows} == {"p0", "p1", "p2", "p3"}
    for r in rows:  # a random model rarely closes </think>; those have no answer and score 0
        if r["truncated"]:
            assert r["answer"] is None
    assert m["truncated"] == sum(r["truncated"] for r in rows) / len(rows)
    # each completion's verdict is logged (the report's accuracy by budget reads it) and agrees with lm-eval's acc
    assert all(isinstance(r["correct"], bool) for r in rows)
    for pid in {r["prompt_id"] for r in rows}:
        mine = [r for r in rows if r["prompt_id"] == pid]
        assert sum(r["correct"] for r in mine) / len(mine) == mine[0]["prompt_acc"]
    assert summary["completions"] == 8 and summary["generated_tokens"] > 0
    # the generated task YAML carries the recipe's sampling, not lm-eval's 256-token default
    task_yaml = (ctx.out / "tasks" / "heldout.yaml").read_text()
    assert "max_gen_toks: 24" in task_yaml and "repeats: 2" in task_yaml and "<|im_end|>" in task_yaml


def rows_of(ctx, task="heldout"):
    return [json.loads(line) for line in (ctx.out / "samples" / f"{task}.jsonl").read_text().splitlines()]
