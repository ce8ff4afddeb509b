"""Malformed recipes: each gives one line per problem naming the field, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from factory.recipe import RecipeError, load_recipe
from tests.conftest import minimal_recipe


def _set(d: dict, path: str, value):
    keys = path.split(".")
    for k in keys[:-1]:
        d = d[int(k)] if isinstance(d, list) else d[k]
    last = keys[-1]
    if value is _DELETE:
        del d[last]
    elif isinstance(d, list):
        d[int(last)] = value
    else:
        d[last] = value


_DELETE = object()

# (case id, mutations {path: value}, expected substring of the one-line message)
CASES = [
    ("unknown-top-key", {"nmae": "x"}, "nmae: unknown key"),
    ("missing-teacher", {"teacher": _DELETE}, "teacher: required field is missing"),
    ("missing-eval", {"eval": _DELETE}, "eval: required field is missing"),
    ("negative-n", {"generation.n": -1}, "generation.n: Input should be greater than 0"),
    ("n-wrong-type", {"generation.n": "eight"}, "generation.n: Input should be a valid integer"),
    ("temperature-negative", {"generation.temperature": -0.5}, "generation.temperature: Input should be greater than or equal to 0"),
    ("top-p-above-1", {"generation.top_p": 1.5}, "generation.top_p: Input should be less than or equal to 1"),
    ("teacher-both-sources", {"teacher.bootstrap": {}}, "teacher: give exactly one of teacher.model"),
    ("teacher-neither", {"teacher": {"backend": "vllm"}}, "teacher: give exactly one of teacher.model"),
    ("openai-without-url", {"teacher.backend": "openai"}, "teacher: backend 'openai' needs teacher.base_url"),
    ("unknown-backend", {"teacher.backend": "tgi"}, "teacher.backend: Input should be 'auto', 'vllm', 'transformers' or 'openai'"),
    ("unknown-student-kind", {"students.0.kind": "kto"}, "students.0: Input tag 'kto' found using 'kind' does not match"),
    ("trl-unknown-key", {"students.0.trl": {"weight_decy": 0.1}},
     "students.0.sft: trl.weight_decy: not a field of SFTConfig (did you mean 'weight_decay'?)"),
    ("old-field-name", {"students.0.batch_size": 8}, "students.0.sft: batch_size: now per_device_train_batch_size"),
    ("old-kl-beta", {"students.0.kl_beta": 0.1}, "students.0.sft: kl_beta: now trl: {beta: ...}"),
    ("trl-managed-key", {"students.0.trl": {"report_to": ["wandb"]}}, "trl.report_to: set by the factory"),
    ("tracking-unknown", {"tracking": {"report_to": "mlflow"}}, "tracking.report_to: Input should be 'none'"),
    ("student-unknown-key", {"students.0.lr": 1e-4}, "students.0.sft.lr: unknown key"),
    ("student-bad-name", {"students.0.name": "Long Student"}, "student name must be lowercase"),
    ("dangling-init", {"students.0.init": {"student": "ghost"}}, "input student 'ghost' does not exist"),
    ("init-two-sources", {"students.0.init": {"hub": "a/b", "path": "/tmp"}}, "give exactly one of student, teacher, path, hub, tiny"),
    ("merge-unknown-model", {"students": [{"name": "long", "kind": "sft", "init": {"hub": "a/b"}},
                                          {"name": "m", "kind": "merge", "models": ["long", "nope"]}]},
     "students.1.m: input student 'nope' does not exist"),
    ("merge-weight-range", {"students": [{"name": "a", "kind": "sft", "init": {"hub": "a/b"}},
                                         {"name": "b", "kind": "sft", "init": {"hub": "a/b"}},
                                         {"name": "m", "kind": "merge", "models": ["a", "b"], "weights": [1.5]}]},
     "weights must lie in [0, 1]"),
    ("duplicate-student", {"students": [{"name": "a", "kind": "sft", "init": {"hub": "x/y"}},
                                        {"name": "a", "kind": "sft", "init": {"hub": "x/y"}}]},
     "students: name 'a' is used twice"),
    ("cycle", {"students": [{"name": "a", "kind": "sft", "init": {"student": "b"}},
                            {"name": "b", "kind": "dpo", "init": {"student": "a"}}]}, "students: cycle"),
    ("self-init", {"students.0.init": {"student": "long"}}, "a student cannot start from itself"),
    ("gate-unknown-task", {"eval.gates": [{"rules": ["math500.acc >= 0.8"]}]}, "task 'math500' is not in eval.tasks"),
    ("gate-bad-metric", {"eval.gates": [{"rules": ["heldout.f1 >= 0.8"]}]}, "unknown metric 'f1'"),
    ("gate-unparseable", {"eval.gates": [{"rules": ["accuracy must be good"]}]}, "cannot parse rule 'accuracy must be good'"),
    ("gate-unknown-student", {"eval.gates": [{"students": ["ghost"], "rules": ["heldout.acc >= 0.1"]}]},
     "eval.gates.0.students: unknown student 'ghost'"),
    ("gate-baseline-missing", {"eval.gates": [{"rules": ["heldout.acc >= baseline.heldout.acc - 0.01"]}]},
     "uses baseline but no baseline is named"),
    ("eval-unknown-task", {"eval.tasks": ["nonexistent_task"]}, "eval.tasks.0: 'nonexistent_task' is neither"),
    ("eval-k-zero", {"eval.k": 0}, "eval.k: Input should be greater than 0"),
    ("prompts-no-sources", {"prompts.sources": []}, "prompts.sources: List should have at least 1 item"),
    ("source-missing-path", {"prompts.sources": [{"kind": "jsonl", "name": "x"}]}, "kind 'jsonl' needs a path"),
    ("source-file-missing", {"prompts.sources": [{"kind": "jsonl", "name": "x", "path": "nope/prompts.jsonl"}]},
     "prompts.sources.0.path: file does not exist"),
    ("rl-window-empty", {"datasets": {"rl_pool": {"min_pass_rate": 0.8, "max_pass_rate": 0.2}}},
     "min_pass_rate 0.8 must be < max_pass_rate 0.2"),
    ("pair-ratio-too-small", {"datasets": {"pairs": {"length_ratio": 1.0}}}, "datasets.pairs.length_ratio: Input should be greater than 1"),
    ("heads-do-not-divide", {"students.0.init": {"tiny": {"hidden_size": 100, "num_heads": 3}}}, "must be divisible by num_heads"),
    ("token-in-release", {"release": {"token": "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH"}},
     "release.token: secrets do not belong in a recipe"),
    ("token-looking-value", {"teacher.base_url": "http://x?key=sk-abcdefghijklmnopqrstuvwxyz123"},
     "value looks like a secret token; remove it and export OPENAI_API_KEY"),
    ("bad-recipe-name", {"name": "My Recipe!"}, "name: recipe name must be lowercase"),
    ("eval-set-dup", {"prompts.eval_sets": [{"kind": "reasoning_gym", "name": "heldout", "size": 2},
                                            {"kind": "reasoning_gym", "name": "heldout", "size": 2}]},
     "eval set names must be unique"),
]


@pytest.mark.parametrize("case,mutations,expected", CASES, ids=[c[0] for c in CASES])
def test_malformed_recipe_message(write_recipe, case, mutations, expected):
    data = copy.deepcopy(minimal_recipe())
    for path, value in mutations.items():
        _set(data, path, value)
    path = write_recipe(data)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert any(expected in line for line in err.value.problems), err.value.problems
    for line in err.value.problems:  # one line each, naming the file first
        assert "\n" not in line and line.startswith(f"{path}: ")


FILE_CASES = [
    ("empty", "", "empty file"),
    ("whitespace", "   \n\n", "empty file"),
    ("invalid-yaml", "name: [unclosed\nteacher: {", "invalid YAML at line"),
    ("not-a-mapping", "- a\n- b\n", "top level must be a mapping (got list)"),
    ("tab-indent", "name: t\n\tteacher: x\n", "invalid YAML"),
]


@pytest.mark.parametrize("case,text,expected", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_malformed_file(write_recipe, case, text, expected):
    with pytest.raises(RecipeError) as err:
        load_recipe(write_recipe(text))
    assert len(err.value.problems) == 1 and expected in err.value.problems[0]


def test_huge_file_refused_without_parsing(tmp_path):
    p = tmp_path / "huge.yaml"
    with open(p, "w") as f:
        f.write("name: t\n# " + "x" * (50 * 1024 * 1024) + "\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(p)
    assert "file is 52.4 MB" in err.value.problems[0]


def test_missing_file(tmp_path):
    with pytest.raises(RecipeError) as err:
        load_recipe(tmp_path / "nope.yaml")
    assert err.value.problems == [f"{tmp_path / 'nope.yaml'}: file does not exist"]


def test_all_problems_reported_at_once(write_recipe):
    data = minimal_recipe()
    data["generation"]["n"] = -1
    data["generation"]["top_p"] = 2
    data["bogus"] = 1
    with pytest.raises(RecipeError) as err:
        load_recipe(write_recipe(data))
    joined = "\n".join(err.value.problems)
    assert "generation.n" in joined and "generation.top_p" in joined and "bogus" in joined


def test_cli_validate_exit_code_and_no_traceback(write_recipe, tmp_path):
    data = minimal_recipe()
    data["generation"]["n"] = -3
    data["run_dir"] = str(tmp_path / "runs")
    path = write_recipe(data)
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "validate", str(path)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f"{path}: generation.n: Input should be greater than 0 (got -3)"]
    assert not (tmp_path / "runs").exists()


def test_cli_validate_unknown_trl_key_suggests_the_field(write_recipe, tmp_path):
    """The pass-through is checked against TRL's own dataclass fields: one line, the closest name, exit 2."""
    data = minimal_recipe()
    data["students"][0]["trl"] = {"weight_decay": 0.1, "lr_sheduler_type": "linear"}
    path = write_recipe(data)
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "validate", str(path)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f"{path}: students.0.sft: trl.lr_sheduler_type: not a field of SFTConfig "
                     "(did you mean 'lr_scheduler_type'?)"]


def test_trl_block_is_part_of_the_stage_hash(write_recipe):
    from factory.graph import build_graph

    data = minimal_recipe()
    plain = {s.name: s.hash for s in build_graph(load_recipe(write_recipe(data)))}
    data["students"][0]["trl"] = {"weight_decay": 0.1}
    tuned = {s.name: s.hash for s in build_graph(load_recipe(write_recipe(data)))}
    assert plain["student.long"] != tuned["student.long"] and plain["datasets"] == tuned["datasets"]


def test_cli_run_refuses_bad_recipe_and_writes_nothing(write_recipe, tmp_path):
    data = minimal_recipe(run_dir=str(tmp_path / "runs"))
    data["students"][0]["init"] = {"student": "ghost"}
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "run", str(write_recipe(data))],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "ghost" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()
