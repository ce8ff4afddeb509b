"""`factory run --executor ray` on a local Ray instance (`ray.init(num_cpus=2)`), with the fast fake stages:
the same artifacts as a local run, dependencies held through object refs, a worker killed mid-stage
retried by Ray and resumed from the stage's `.partial` folder, and a failure worded as a local one.

Ray's workers take their environment from the raylet started by `ray.init`, so the fake stages' knobs are
set before it (one Ray start for the whole scenario: it costs ~7 s on the 2-core box).
"""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from factory import runner
from factory.executors.base import read_jobs
from core.manifest import read_manifest
from factory.recipe import load_recipe
from tests.conftest import minimal_recipe
from tests.factory import fake_stages
from tests.factory.test_executor_slurm import FRONT, _by_name, _wait_for, assert_dependencies_held, assert_same_artifacts

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]  # one local Ray instance at a time under -n


@pytest.fixture
def ray_cluster(tmp_path, monkeypatch, fake):
    pids = tmp_path / "pids"
    pids.mkdir()
    monkeypatch.setenv("FAKE_PID_DIR", str(pids))
    monkeypatch.setenv("FAKE_SLOW_STAGE", "generate")
    monkeypatch.setenv("FAKE_SLOW_STEPS", "12")
    monkeypatch.setenv("FAKE_FAIL_STAGE", "report")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield pids
    finally:
        ray.shutdown()


def test_ray_same_artifacts_dependencies_retry_resume_and_failure(ray_cluster, tmp_path, write_recipe, fake):
    local = _by_name(runner.run(load_recipe(write_recipe(minimal_recipe(run_dir=str(tmp_path / "local")),
                                                         name="local.yaml")), until=FRONT))
    names = sorted(n for n in local if local[n].cached)
    fake.unlink()
    recipe = load_recipe(write_recipe(minimal_recipe(run_dir=str(tmp_path / "ray")), name="ray.yaml"))
    pids = ray_cluster
    (pids / "generate.pid").unlink()  # the local run's (this process): the killer must wait for Ray's

    def kill_worker_mid_stage():
        pid = int(_wait_for(lambda: (pids / "generate.pid").exists() and (pids / "generate.pid").read_text(),
                            60, "generate to start"))
        _wait_for(lambda: any(json.loads(p.read_text())["steps"] >= 2 for p in recipe.run_root.glob(
            "generate-*.partial/progress.json")), 30, "two steps")
        os.kill(pid, signal.SIGKILL)  # a lost worker (preempted node): Ray retries the task

    killer = threading.Thread(target=kill_worker_mid_stage)
    killer.start()
    remote = _by_name(runner.run(recipe, until=FRONT, executor="ray"))
    killer.join()
    assert sorted(set(fake_stages.calls(fake))) == names
    assert fake_stages.calls(fake).count("generate") == 2  # killed once, retried once
    assert read_manifest(remote["generate"].dir)["summary"]["resumed_from"] >= 2  # from its .partial folder
    assert_same_artifacts(local, remote, names)
    assert_dependencies_held(remote, names)
    jobs = read_jobs(recipe.run_root)
    assert {n: jobs[n]["state"] for n in names} == {n: "completed" for n in names}
    assert (remote["verify"].dir.with_name(remote["verify"].dir.name + ".ray") / "task.log").exists()

    with pytest.raises(runner.StageFailed) as err:  # report is told to fail; the rest is cached
        runner.run(recipe, executor="ray")
    lines = str(err.value).splitlines()
    assert lines[0] == "stage report failed: ValueError: report was told to fail"
    assert read_jobs(recipe.run_root)["report"]["state"] == "failed"
    assert [n for n in fake_stages.calls(fake) if n not in names] == ["eval.teacher", "report"]
