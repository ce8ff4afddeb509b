"""The shipped R1 suite (eval/tasks/r1): scorers honour </think>, the tasks stand alone in plain lm-eval, and a
task runs through lm-eval on local files of the real dataset's shape (no Hub)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eval.tasks.r1 import r1_utils
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


R1_DIR = Path(__file__).resolve().parents[2] / "eval" / "tasks" / "r1"
NAMES = ["aime24_r1", "math500_r1", "gpqa_diamond_r1", "humaneval_r1"]
# our task -> (lm-eval's own task file under lm_eval/tasks, the fields copied from it with includes resolved)
COPIED = {
    "aime24_r1": ("aime/aime24.yaml", ["dataset_path", "output_type", "training_split", "fewshot_split",
                                       "test_split", "doc_to_target"]),
    "math500_r1": ("hendrycks_math/hendrycks_math500.yaml", ["dataset_path", "dataset_name", "output_type",
                                                             "training_split", "test_split", "doc_to_target"]),
    "gpqa_diamond_r1": ("gpqa/cot_zeroshot/gpqa_diamond_cot_zeroshot.yaml",
                        ["dataset_path", "dataset_name", "output_type", "training_split", "validation_split",
                         "test_split", "doc_to_text", "doc_to_target"]),
}


def test_shipped_tasks_materialize_for_the_factory(tmp_path):
    from eval.lm_eval_runner import materialize_tasks, read_task_yaml, shipped_task_files

    assert set(NAMES) <= set(shipped_task_files())
    out = materialize_tasks(NAMES, EVAL_CFG, tmp_path / "tasks", "<|im_end|>")
    aime = read_task_yaml(out / "aime24_r1.yaml")
    assert aime["dataset_path"] == "Maxwell-Jia/AIME_2024" and aime["repeats"] == EVAL_CFG["k"]
    assert aime["generation_kwargs"] == {"until": ["<|im_end|>"], "do_sample": True, "temperature": 0.6,
                                         "top_p": 0.95, "max_gen_toks": EVAL_CFG["max_gen_toks"]}
    assert (out / "r1_utils.py").read_text() == (R1_DIR / "r1_utils.py").read_text()


@pytest.mark.parametrize("task", sorted(COPIED))
def test_copied_fields_match_the_installed_lm_eval_task(task):
    """Our tasks copy lm-eval's data fields (its `include:` takes paths only); a new lm-eval that changes them fails."""
    from lm_eval.tasks._yaml_loader import load_yaml

    from eval.lm_eval_runner import lm_eval_tasks_dir

    base_file, fields = COPIED[task]
    ours = load_yaml(R1_DIR / f"{task}.yaml", resolve_func=False)
    base = load_yaml(lm_eval_tasks_dir() / base_file, resolve_func=False)
    assert {f: ours.get(f) for f in fields} == {f: base.get(f) for f in fields}
    assert "include" not in ours


STANDALONE = """
import importlib.abc, json, sys
class NoFactory(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"factory", "teachers", "students", "eval"}:
            raise ImportError(f"factory code imported: {name}")
sys.meta_path.insert(0, NoFactory())
from lm_eval.tasks import TaskManager
from lm_eval.tasks._yaml_loader import load_yaml
tm = TaskManager(include_path=sys.argv[1])  # what `lm_eval --include_path eval/tasks/r1` builds
names = ["aime24_r1", "math500_r1", "gpqa_diamond_r1", "humaneval_r1"]
found = [n for n in names if n in tm.all_tasks]
configs = {n: load_yaml(tm.task_index[n].yaml_path) for n in found}  # functions resolved: r1_utils imports
task = tm.load_task_or_group(["humaneval_r1"])["humaneval_r1"]  # local data: built for real, offline
print(json.dumps({"found": found, "humaneval_docs": len(task.eval_docs),
                  "prompt": task.doc_to_text(task.eval_docs[0]),
                  "datasets": {n: c.get("dataset_path") for n, c in configs.items()},
                  "process_results": {n: c["process_results"].__name__ for n, c in configs.items()}}))
"""


@pytest.mark.slow
def test_tasks_stand_alone_in_plain_lm_eval(tmp_path):
    """Indexed as the lm-eval CLI does (its own tasks included), in a process where importing the factory fails."""
    proc = subprocess.run([sys.executable, "-c", STANDALONE, str(R1_DIR)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
                                                          "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["found"] == NAMES
    assert out["humaneval_docs"] == 164 and out["prompt"].startswith("Write a solution to the following problem")
    assert out["datasets"] == {"aime24_r1": "Maxwell-Jia/AIME_2024", "math500_r1": "HuggingFaceH4/MATH-500",
                               "gpqa_diamond_r1": "Idavidrein/gpqa", "humaneval_r1": "json"}
    assert out["process_results"] == {"aime24_r1": "aime_process_results", "math500_r1": "math500_process_results",
                                      "gpqa_diamond_r1": "gpqa_process_results",
                                      "humaneval_r1": "humaneval_process_results"}


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
