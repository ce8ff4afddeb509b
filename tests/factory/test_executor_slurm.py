"""`factory run --executor slurm` on a real one-node Slurm (tests/factory/slurm_cluster.py), with fast fake stages:
the same artifacts as a local run, dependencies held, a killed job resumed by a re-run, failures that name
their log, USR1 before the time limit requeued and resumed, Ctrl-C that cancels, a killed driver's jobs
attached to by the next run.

The fake stage function (tests/factory/fake_stages.py) reaches each job pickled by reference; the
environment knobs reach the jobs because sbatch passes the submitting environment along.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from factory import runner
from factory.executors.base import read_jobs
from core.manifest import read_manifest
from factory.recipe import load_recipe
from tests.conftest import REPO, minimal_recipe
from tests.factory import fake_stages, slurm_cluster

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slurm")]  # one test cluster at a time under -n
FRONT = "eval.long"  # prompts -> generate -> verify -> datasets -> student.long -> eval.long


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    why = slurm_cluster.unavailable()
    if why:
        pytest.skip(why)
    env, stop = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _recipe(write_recipe, run_dir: Path, name: str):
    return load_recipe(write_recipe(minimal_recipe(run_dir=str(run_dir)), name=name))


def _by_name(planned):
    return {p.stage.name: p for p in planned}


def _wait_for(cond, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def assert_same_artifacts(local, remote, names):
    for name in names:
        a, b = read_manifest(local[name].dir), read_manifest(remote[name].dir)
        assert local[name].dir.name == remote[name].dir.name
        assert (a["hash"], a["inputs"], a["config"]) == (b["hash"], b["inputs"], b["config"]), name
        assert a["files"]["out.json"] == b["files"]["out.json"], name


def assert_dependencies_held(planned, names):
    """No stage started before every one of its inputs had ended (timing.json written by the fake stage)."""
    timing = {n: json.loads((planned[n].dir / "timing.json").read_text()) for n in names}
    for n in names:
        for up in planned[n].stage.inputs.values():
            assert timing[n]["started"] >= timing[up]["ended"], (n, up, timing[n], timing[up])


def test_slurm_same_artifacts_as_local_and_dependencies_held(slurm, tmp_path, write_recipe, fake):
    """(Scripts, status and the no-op re-run are checked on the real stages: test_executor_micro.py.)"""
    local = _by_name(runner.run(_recipe(write_recipe, tmp_path / "local", "local.yaml"), until=FRONT))
    fake.unlink()
    recipe = _recipe(write_recipe, tmp_path / "slurm", "slurm.yaml")
    remote = _by_name(runner.run(recipe, until=FRONT, executor="slurm"))
    names = [p.stage.name for p in runner.plan(recipe) if p.stage.name in set(fake_stages.calls(fake))]
    assert sorted(names) == sorted(n for n in local if local[n].cached)  # each front stage ran once, as a job
    assert_same_artifacts(local, remote, names)
    assert_dependencies_held(remote, names)
    assert all(remote[n].cached for n in names)
    jobs = read_jobs(recipe.run_root)
    assert {n: jobs[n]["state"] for n in names} == {n: "completed" for n in names}


def test_slurm_killed_job_resumes_and_failure_names_its_log(slurm, tmp_path, write_recipe, fake, monkeypatch):
    recipe = _recipe(write_recipe, tmp_path / "runs", "kill.yaml")
    pids = tmp_path / "pids"
    pids.mkdir()
    monkeypatch.setenv("FAKE_PID_DIR", str(pids))
    monkeypatch.setenv("FAKE_SLOW_STAGE", "generate")
    monkeypatch.setenv("FAKE_SLOW_STEPS", "100")

    def kill_mid_stage():
        pid = int(_wait_for(lambda: (pids / "generate.pid").exists() and (pids / "generate.pid").read_text(),
                            60, "generate to start"))
        _wait_for(lambda: any(json.loads(p.read_text())["steps"] >= 2 for p in recipe.run_root.glob(
            "generate-*.partial/progress.json")), 30, "two steps")
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_mid_stage)
    killer.start()
    with pytest.raises(runner.StageFailed) as err:
        runner.run(recipe, until="verify", executor="slurm")
    killer.join()
    msg = str(err.value)
    assert msg.startswith("stage generate failed: slurm job"), msg
    assert "last lines of" in msg and ".slurm/" in msg and err.value.logs
    jobs = read_jobs(recipe.run_root)
    assert jobs["generate"]["state"] == "failed" and jobs["verify"]["state"] == "cancelled"

    fake.unlink()  # the re-run resubmits only what is incomplete, and the killed stage resumes
    monkeypatch.setenv("FAKE_SLOW_STEPS", "4")
    planned = _by_name(runner.run(recipe, until="verify", executor="slurm"))
    assert fake_stages.calls(fake) == ["generate", "verify"]
    assert read_manifest(planned["generate"].dir)["summary"]["resumed_from"] >= 2  # from its .partial folder

    monkeypatch.setenv("FAKE_FAIL_STAGE", "datasets")  # a stage's own error: worded as a local run words it
    with pytest.raises(runner.StageFailed) as err:
        runner.run(recipe, until="datasets", executor="slurm")
    lines = str(err.value).splitlines()
    assert lines[0] == "stage datasets failed: ValueError: datasets was told to fail"
    assert any("last lines of" in line for line in lines) and "ValueError" in str(err.value)


def test_slurm_ctrl_c_cancels_submitted_jobs(slurm, tmp_path, write_recipe):
    path = write_recipe(minimal_recipe(run_dir=str(tmp_path / "runs")))
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, "FAKE_SLOW_STAGE": "prompts", "FAKE_SLOW_STEPS": "200", "FAKE_PID_DIR": str(pids)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.factory.fake_stages", "run", str(path), "--executor", "slurm"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=fake_stages.default_sigint)
    _wait_for(lambda: (pids / "prompts.pid").exists(), 60, "prompts to start")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    jobs = read_jobs(load_recipe(path).run_root)
    assert "cancelled" in err and set(s["state"] for s in jobs.values()) == {"cancelled"}
    ids = [s["job_id"] for s in jobs.values()]
    _wait_for(lambda: not any(i in subprocess.run(["squeue", "--noheader", "-o", "%i"], capture_output=True,
                                                  text=True).stdout.split() for i in ids), 20, "jobs to leave the queue")


def test_slurm_usr1_before_time_limit_requeues_and_resumes(slurm, tmp_path, write_recipe, fake, monkeypatch):
    """The signal a job gets before its time limit (or on preemption): submitit requeues the same call,
    and the stage resumes from its `.partial` folder in the same `factory run`."""
    recipe = _recipe(write_recipe, tmp_path / "runs", "usr1.yaml")
    pids = tmp_path / "pids"
    pids.mkdir()
    monkeypatch.setenv("FAKE_PID_DIR", str(pids))
    monkeypatch.setenv("FAKE_SLOW_STAGE", "prompts")
    monkeypatch.setenv("FAKE_SLOW_STEPS", "12")

    def signal_mid_stage():
        _wait_for(lambda: any(json.loads(p.read_text())["steps"] >= 2 for p in recipe.run_root.glob(
            "prompts-*.partial/progress.json")), 60, "two steps")
        job = read_jobs(recipe.run_root)["prompts"]["job_id"]
        subprocess.run(["scancel", "--signal=USR1", job], check=True)

    sender = threading.Thread(target=signal_mid_stage)
    sender.start()
    planned = _by_name(runner.run(recipe, until="prompts", executor="slurm"))
    sender.join()
    assert fake_stages.calls(fake) == ["prompts", "prompts"]  # requeued once, by submitit
    assert read_manifest(planned["prompts"].dir)["summary"]["resumed_from"] >= 2
    assert read_jobs(recipe.run_root)["prompts"]["state"] == "completed"


def test_slurm_killed_driver_leaves_jobs_and_rerun_attaches(slurm, tmp_path, write_recipe):
    """A `factory run` killed outright (lost login session): its jobs go on, the next run attaches to them."""
    path = write_recipe(minimal_recipe(run_dir=str(tmp_path / "runs")))
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, "FAKE_SLOW_STAGE": "prompts", "FAKE_SLOW_STEPS": "15", "FAKE_PID_DIR": str(pids)}
    cmd = [sys.executable, "-m", "tests.factory.fake_stages", "run", str(path), "--until", "generate",
           "--executor", "slurm"]
    first = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: (pids / "prompts.pid").exists(), 60, "prompts to start")
    first.kill()
    first.wait()
    submitted = read_jobs(load_recipe(path).run_root)
    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "attach  prompts" in again.stderr and "attach  generate" in again.stderr
    assert "submit" not in again.stderr
    jobs = read_jobs(load_recipe(path).run_root)
    assert {n: j["job_id"] for n, j in jobs.items()} == {n: j["job_id"] for n, j in submitted.items()}
    assert all(j["state"] == "completed" for j in jobs.values())
