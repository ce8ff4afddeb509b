"""The micro recipe's front part through a real one-node Slurm: prompts -> generate -> verify -> datasets ->
student.long -> eval.long, each stage one sbatch job running the real stage (the shipped micro teacher,
tiny sizes from tests/test_end_to_end.py). Its artifacts equal a local run's, file by file, except the
files that record wall times or absolute paths; no stage started before its inputs were published; the
sbatch script beside each stage waits on exactly its upstream jobs; `factory status` shows the jobs; a
second run submits nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from factory import runner
from factory.executors.base import read_jobs
from core.manifest import read_manifest
from factory.recipe import load_recipe
from tests.conftest import REPO
from tests.factory.test_executor_slurm import slurm  # noqa: F401  (the cluster fixture)
from tests.test_end_to_end import shrink_micro

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slurm")]  # one test cluster at a time under -n
FRONT = "eval.long"
# Files that differ between any two local runs too: timings, absolute paths, datasets' random fingerprints.
VOLATILE = {"stage.log", "state.json", "train_log.json", "training_args.bin", "results.json", "heldout.yaml"}


def _run(tmp_path, name: str, *args):
    """`factory run` as a user types it (a fresh process: its stage hashes see no in-process patches)."""
    data = shrink_micro(tmp_path / name)
    data["stage_workers"] = 1
    data["eval"]["k"] = 1
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "run", str(path), "--until", FRONT, *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    recipe = load_recipe(path)
    return recipe, {p.stage.name: p for p in runner.plan(recipe, full_check=True)}


def _stable_files(manifest: dict) -> dict:
    return {f: v["sha256"] for f, v in manifest["files"].items()
            if f.rsplit("/", 1)[-1] not in VOLATILE and not f.endswith(".manifest.json")}


def test_micro_front_part_on_slurm_equals_local(slurm, tmp_path):  # noqa: F811
    _, local = _run(tmp_path, "local")
    recipe, remote = _run(tmp_path, "slurm", "--executor", "slurm")
    names = ["prompts", "generate", "verify", "datasets", "student.long", "eval.long"]
    assert all(remote[n].cached for n in names)  # a local `factory run` would reuse every one of them
    jobs = read_jobs(recipe.run_root)
    assert sorted(jobs) == sorted(names) and all(jobs[n]["state"] == "completed" for n in names)

    manifests = {n: read_manifest(remote[n].dir) for n in names}
    for n in names:
        ours, theirs = manifests[n], read_manifest(local[n].dir)
        assert ours["hash"] == theirs["hash"], n
        assert _stable_files(ours) == _stable_files(theirs), n
        assert len(_stable_files(ours)) > 0, n
    results = [json.loads((d[FRONT].dir / "results.json").read_text())["tasks"] for d in (local, remote)]
    assert results[0] == results[1]  # the same scores from the same weights
    assert "model/model.safetensors" in _stable_files(manifests["student.long"])

    for n in names:  # dependencies held: a stage started only after each input had been published
        for up in remote[n].stage.inputs.values():
            ended = manifests[up]["started_at"] + manifests[up]["wall_s"]
            assert manifests[n]["started_at"] >= ended, (n, up)

    ids = {n: jobs[n]["job_id"] for n in names}
    for n in names:  # the generated sbatch script lives beside the artifact, readable and resubmittable
        script = (remote[n].dir.with_name(remote[n].dir.name + ".slurm") / f"{ids[n]}_submission.sh").read_text()
        assert "#SBATCH --signal=USR1@120" in script and "#SBATCH --requeue" in script, n
        dep = [line.split("=afterok:", 1)[1] for line in script.splitlines() if line.startswith("#SBATCH --dependency")]
        assert set(dep[0].split(":") if dep else []) == {ids[u] for u in remote[n].stage.inputs.values()}, n
    assert "#SBATCH --cpus-per-task=2" in (remote["verify"].dir.with_name(remote["verify"].dir.name + ".slurm")
                                            / f"{ids['verify']}_submission.sh").read_text()  # verification.workers

    status = subprocess.run([sys.executable, "-m", "factory.cli", "status", str(recipe._source)], cwd=REPO,
                            capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert status.returncode == 0, status.stderr
    rows = [line for line in (status.stdout + status.stderr).splitlines() if "student.long" in line]
    assert f"slurm {ids['student.long']}" in rows[0] and "completed" in rows[0]

    _run(tmp_path, "slurm", "--executor", "slurm")  # nothing stale: nothing submitted
    assert read_jobs(recipe.run_root) == jobs
