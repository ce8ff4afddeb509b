"""Cluster executors without a cluster: what each stage asks for, the sbatch script a GPU recipe's stages get,
the CLI's one-line errors, `factory status` from jobs.json, and the import layering (no runner <-> scheduler cycle).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from factory import runner
from factory.cli import app
from factory.executors.resources import Resources, stage_resources
from factory.graph import build_graph
from factory.recipe import load_recipe
from tests.conftest import REPO, minimal_recipe


def _stages(path):
    recipe = load_recipe(path)
    return recipe, {s.name: s for s in build_graph(recipe)}


def test_gpu_recipe_stages_ask_for_their_gpus_nodes_and_cpus():
    recipe, stages = _stages(REPO / "recipes" / "r1-distill-qwen-14b.yaml")
    res = {n: stage_resources(recipe, s) for n, s in stages.items()}
    assert res["student.long"] == Resources(nodes=2, gpus_per_node=8, cpus=64)  # num_processes 16 on 8-GPU nodes
    assert res["student.simpo"] == Resources(nodes=2, gpus_per_node=8, cpus=64)  # SimPO at 8k tokens on 16 GPUs (fits, #16)
    assert res["generate"] == Resources(gpus_per_node=2, cpus=16)  # one vLLM engine, tensor-parallel 2
    assert res["verify"] == Resources(cpus=32)  # verification.workers
    assert res["eval.long"].gpus_per_node == 1 and res["prompts"].gpus_per_node == 0
    api_recipe, api_stages = _stages(REPO / "recipes" / "r1-distill-qwen-7b.yaml")
    assert stage_resources(api_recipe, api_stages["generate"]).gpus_per_node == 0  # an HTTP teacher


def test_cpu_recipe_asks_for_no_gpu():
    recipe, stages = _stages(REPO / "recipes" / "micro.yaml")
    res = {n: stage_resources(recipe, s) for n, s in stages.items()}
    assert {r.gpus_per_node for r in res.values()} == {0}
    assert res["verify"].cpus == 2 and res["student.long"] == Resources(cpus=1)


def test_generated_sbatch_script_of_a_multi_node_stage(monkeypatch, tmp_path):
    submitit = pytest.importorskip("submitit")
    from submitit.slurm.slurm import _make_sbatch_string

    from factory.executors import slurm

    monkeypatch.setattr(slurm.shutil, "which", lambda name: "/usr/bin/" + name)
    recipe = load_recipe(REPO / "recipes" / "r1-distill-qwen-14b.yaml")
    planned = {p.stage.name: p for p in runner.plan(recipe)}
    engine = slurm.SlurmEngine(recipe, {"partition": "gpu", "slurm_options": {"account": "acct"}})
    p = planned["student.long"]
    params = engine.parameters(p, ["41", "42"], stage_resources(recipe, p.stage))
    ex = submitit.SlurmExecutor(folder=tmp_path)
    ex.update_parameters(**params)
    script = _make_sbatch_string(command="python -m submitit.core._submit x", folder=tmp_path, **ex.parameters)
    for line in ("--nodes=2", "--gpus-per-node=8", "--cpus-per-task=64", "--ntasks=1", "--partition=gpu",
                 "--account=acct", "--dependency=afterok:41:42", "--signal=USR1@120", "--requeue",
                 "--kill-on-invalid-dep=yes", "--time=1440"):
        assert f"#SBATCH {line}" in script, line
    assert "export FACTORY_LAUNCH_PREFIX=\"srun --overlap --nodes=2 --ntasks-per-node=1" in script
    assert "--num_processes 16" in script  # students/launch.py reads these two variables


def test_cli_rejects_unknown_executor_and_bad_slurm_option(write_recipe, tmp_path):
    path = write_recipe(minimal_recipe(run_dir=str(tmp_path / "runs")))
    result = CliRunner().invoke(app, ["run", str(path), "--executor", "kubernetes"])
    assert result.exit_code == 2
    assert "--executor: unknown executor 'kubernetes' (known: local, slurm, ray)" in result.output
    result = CliRunner().invoke(app, ["run", str(path), "--executor", "slurm", "--slurm-option", "account"])
    assert result.exit_code == 2 and "--slurm-option: expected KEY=VALUE (got 'account')" in result.output
    assert not (tmp_path / "runs").exists()  # nothing submitted, nothing written


def test_cli_slurm_without_sbatch_is_one_line(write_recipe, tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    from factory.executors import slurm

    monkeypatch.setattr(slurm.shutil, "which", lambda name: None)
    path = write_recipe(minimal_recipe(run_dir=str(tmp_path / "runs")))
    result = CliRunner().invoke(app, ["run", str(path), "--executor", "slurm"])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1].endswith(
        "--executor slurm: `sbatch` is not on PATH (run on a Slurm login node)")
    assert not list((tmp_path / "runs").rglob("jobs.json"))


def test_status_shows_each_stages_job_and_state(write_recipe, tmp_path):
    path = write_recipe(minimal_recipe(run_dir=str(tmp_path / "runs")))
    recipe = load_recipe(path)
    planned = {p.stage.name: p for p in runner.plan(recipe)}
    recipe.run_root.mkdir(parents=True)
    (recipe.run_root / "jobs.json").write_text(json.dumps({"stages": {
        "prompts": {"engine": "ray", "job_id": "ab12", "hash": planned["prompts"].stage.hash, "state": "completed"},
        "generate": {"engine": "ray", "job_id": "cd34", "hash": planned["generate"].stage.hash, "state": "failed",
                     "detail": "stage generate failed: ValueError: boom"},
        "verify": {"engine": "ray", "job_id": "old", "hash": "an-older-recipe", "state": "failed"}}}))
    result = CliRunner().invoke(app, ["status", str(path)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 3}
    assert "ray ab12" in rows["prompts"] and "completed" in rows["prompts"]
    assert "ray cd34" in rows["generate"] and "failed" in rows["generate"]
    assert "old" not in rows["verify"]  # a job for another hash of the stage is not this stage's


def test_no_runner_scheduler_import_cycle():
    """stage_run is the floor of orchestration; scheduler and executors import it, never the runner."""
    for rel in ("factory/stage_run.py", "factory/scheduler.py", *sorted(
            str(p.relative_to(REPO)) for p in (REPO / "factory" / "executors").glob("*.py"))):
        tree = ast.parse((REPO / rel).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                     for a in n.names}
        assert not {m for m in imported if m in ("factory.runner", "factory.cli")}, rel
    code = "import sys, factory.scheduler, factory.executors.base; print('factory.runner' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "False", out.stderr
