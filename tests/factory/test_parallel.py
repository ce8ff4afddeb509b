"""Parallel stages (`stage_workers` / `factory run --jobs N`): same artifacts as one worker, real overlap,
failures and signals reported per stage, and no child outlives a killed runner.

The fake stage function is resolved in the runner (so the `fake` fixture's patch applies) and reaches
each forkserver child pickled by reference (`tests.factory.fake_stages.echo`); environment knobs reach
the children because the runner passes its environment along with each stage.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factory import runner
from factory.graph import build_graph
from core.manifest import read_manifest
from factory.recipe import load_recipe
from tests.conftest import REPO, minimal_recipe
from tests.factory import fake_stages

SLOW_PAIR = "student.a,student.b"  # independent: both consume only `datasets`


def _diamond(run_dir: Path, **overrides) -> dict:
    """datasets -> {student.a, student.b} -> {eval.a, eval.b} -> report (plus eval.teacher beside generate)."""
    data = minimal_recipe(run_dir=str(run_dir), **overrides)
    data["students"] = [{"name": "a", "kind": "sft", "init": {"hub": "some-org/base"}},
                        {"name": "b", "kind": "sft", "init": {"hub": "some-org/base"}}]
    return data


def _stage(planned, name):
    return next(p for p in planned if p.stage.name == name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a dead child not yet reaped by its reaper is a zombie: it runs no code
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_for(cond, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_stage_workers_changes_no_stage_hash(tmp_path, write_recipe):
    one = load_recipe(write_recipe(_diamond(tmp_path / "runs")))
    four = load_recipe(write_recipe(_diamond(tmp_path / "runs", stage_workers=4), name="four.yaml"))
    assert one.stage_workers == 1 and four.stage_workers == 4
    assert [(s.name, s.hash) for s in build_graph(one)] == [(s.name, s.hash) for s in build_graph(four)]


def test_two_workers_same_artifacts_and_stages_overlap(tmp_path, write_recipe, fake, monkeypatch):
    seq = runner.run(load_recipe(write_recipe(_diamond(tmp_path / "seq"), name="seq.yaml")))
    monkeypatch.setenv("FAKE_SLOW_STAGE", SLOW_PAIR)
    monkeypatch.setenv("FAKE_SLOW_STEPS", "4")
    fake.unlink()
    par_recipe = load_recipe(write_recipe(_diamond(tmp_path / "par"), name="par.yaml"))
    par = runner.run(par_recipe, workers=2)

    assert sorted(fake_stages.calls(fake)) == sorted(p.stage.name for p in par)  # each stage ran exactly once
    assert [p.dir.name for p in seq] == [p.dir.name for p in par]
    assert all(p.status == "cached" for p in par)
    for a, b in zip(seq, par):
        ma, mb = read_manifest(a.dir), read_manifest(b.dir)
        assert (ma["hash"], ma["inputs"], ma["config"]) == (mb["hash"], mb["inputs"], mb["config"]), a.stage.name
        assert ma["files"]["out.json"] == mb["files"]["out.json"], a.stage.name
        assert not b.dir.with_name(b.dir.name + ".partial").exists()
    ta, tb = (json.loads((_stage(par, n).dir / "timing.json").read_text()) for n in SLOW_PAIR.split(","))
    assert ta["started"] < tb["ended"] and tb["started"] < ta["ended"], (ta, tb)  # they ran at the same time
    assert len({ta["pid"], tb["pid"], os.getpid()}) == 3  # each in its own process
    assert all(p.cached for p in runner.plan(par_recipe, full_check=True))

    fake.unlink()  # a second parallel run has nothing to do; --until and --force behave as with one worker
    runner.run(par_recipe, workers=2)
    assert fake_stages.calls(fake) == []
    runner.run(par_recipe, until="verify", force=("generate",), workers=2)
    assert fake_stages.calls(fake) == ["generate"]


def test_failed_stage_names_itself_and_keeps_independent_work(tmp_path, write_recipe, fake, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL_STAGE", "student.a")
    with pytest.raises(runner.StageFailed) as one:  # the message one worker gives
        runner.run(load_recipe(write_recipe(_diamond(tmp_path / "seq"), name="seq.yaml")))
    monkeypatch.setenv("FAKE_SLOW_STAGE", "student.b")  # still running when student.a fails
    monkeypatch.setenv("FAKE_SLOW_STEPS", "3")
    recipe = load_recipe(write_recipe(_diamond(tmp_path / "par"), name="par.yaml"))
    with pytest.raises(runner.StageFailed) as two:
        runner.run(recipe, workers=2)
    assert str(two.value) == str(one.value) == "stage student.a failed: ValueError: student.a was told to fail"

    planned = {p.stage.name: p for p in runner.plan(recipe, full_check=True)}
    assert planned["student.b"].cached  # the independent sibling finished and was published
    a = planned["student.a"]
    assert a.status == "partial" and not a.dir.exists()  # nothing published for the failed stage
    log = (a.dir.with_name(a.dir.name + ".partial") / "stage.log").read_text()
    assert "ValueError: student.a was told to fail" in log  # the child's traceback, for the CLI's "details:"
    assert not any(planned[n].cached for n in ("eval.a", "eval.b", "report"))  # nothing new after the failure

    monkeypatch.delenv("FAKE_FAIL_STAGE")
    runner.run(recipe, workers=2)
    assert all(p.cached for p in runner.plan(recipe))


def test_child_os_error_and_signal_surface_like_in_process(tmp_path, write_recipe, fake, monkeypatch):
    recipe = load_recipe(write_recipe(_diamond(tmp_path / "runs")))
    monkeypatch.setenv("FAKE_FAIL_STAGE", "generate")
    monkeypatch.setenv("FAKE_FAIL_KIND", "disk-full")
    with pytest.raises(OSError) as err:
        runner.run(recipe, until="generate", workers=2)
    assert err.value.errno == 28 and err.value.filename.endswith("out.json") and err.value.strerror

    monkeypatch.delenv("FAKE_FAIL_STAGE")
    pids = tmp_path / "pids"
    pids.mkdir()
    monkeypatch.setenv("FAKE_PID_DIR", str(pids))
    monkeypatch.setenv("FAKE_SLOW_STAGE", "generate")
    monkeypatch.setenv("FAKE_SLOW_STEPS", "60")
    import threading

    def kill_generate():
        pid = int(_wait_for(lambda: (pids / "generate.pid").exists() and (pids / "generate.pid").read_text(),
                            20, "generate to start"))
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_generate)
    killer.start()
    with pytest.raises(runner.StageFailed, match="^stage generate failed: killed by SIGKILL$"):
        runner.run(recipe, until="generate", workers=2)
    killer.join()


def _cli(args, env=None, log: Path | None = None):
    out = open(log, "w") if log else subprocess.PIPE
    return subprocess.Popen([sys.executable, "-m", "tests.factory.fake_stages", *map(str, args)], cwd=REPO,
                            env={**os.environ, **(env or {})}, stdout=out, stderr=out, text=True,
                            preexec_fn=fake_stages.default_sigint)


def test_sigkill_of_runner_leaves_no_child_and_rerun_completes(tmp_path, write_recipe):
    path = write_recipe(_diamond(tmp_path / "runs"))
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {"FAKE_SLOW_STAGE": SLOW_PAIR, "FAKE_SLOW_STEPS": "200", "FAKE_PID_DIR": str(pids)}
    proc = _cli(["run", "--jobs", "2", path], env=env, log=tmp_path / "first.log")
    try:
        children = _wait_for(lambda: all((pids / f"{n}.pid").exists() for n in SLOW_PAIR.split(","))
                             and [int((pids / f"{n}.pid").read_text()) for n in SLOW_PAIR.split(",")],
                             30, "both slow stages to start")
        _wait_for(lambda: len(list((tmp_path / "runs" / "t").glob("student.*.partial/progress.json"))) == 2,
                  10, "both slow stages to make progress")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert all(pid not in (proc.pid, os.getpid()) for pid in children)
    _wait_for(lambda: not any(_alive(pid) for pid in children), 5, f"children {children} to die with the runner")

    progress = {p.parent.name: json.loads(p.read_text())["steps"]
                for p in (tmp_path / "runs" / "t").glob("student.*.partial/progress.json")}
    time.sleep(0.5)  # nobody writes into the .partial folders any more
    assert progress == {p.parent.name: json.loads(p.read_text())["steps"]
                        for p in (tmp_path / "runs" / "t").glob("student.*.partial/progress.json")}

    rerun = _cli(["run", "--jobs", "2", path], env={**env, "FAKE_SLOW_STEPS": "3"})
    _, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert "cached" in err and "done    student.a" in err
    assert all(p.cached for p in runner.plan(load_recipe(path), full_check=True))


def test_sigint_stops_children_and_exits_130(tmp_path, write_recipe):
    path = write_recipe(_diamond(tmp_path / "runs"))
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {"FAKE_SLOW_STAGE": "generate,eval.teacher", "FAKE_SLOW_STEPS": "200", "FAKE_PID_DIR": str(pids)}
    proc = _cli(["run", "--jobs", "2", path], env=env)
    children = _wait_for(lambda: all((pids / f"{n}.pid").exists() for n in ("generate", "eval.teacher"))
                         and [int((pids / f"{n}.pid").read_text()) for n in ("generate", "eval.teacher")],
                         30, "generate and eval.teacher to start")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and f"factory run {path}" in err and "Traceback" not in err
    _wait_for(lambda: not any(_alive(pid) for pid in children), 5, "children to stop")
    assert list((tmp_path / "runs" / "t").glob("generate-*.partial"))


def test_jobs_flag_and_stage_workers_validation(tmp_path, write_recipe):
    path = write_recipe(_diamond(tmp_path / "runs"))
    cli = [sys.executable, "-m", "factory.cli"]
    res = subprocess.run([*cli, "run", "--jobs", "0", str(path)], cwd=REPO, capture_output=True, text=True)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1 and "stage_workers" in lines[0] and "--jobs" in lines[0], res.stderr
    assert not (tmp_path / "runs").exists()

    bad = write_recipe(_diamond(tmp_path / "runs", stage_workers=0), name="bad.yaml")
    for cmd in ("validate", "run"):
        res = subprocess.run([*cli, cmd, str(bad)], cwd=REPO, capture_output=True, text=True)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert res.returncode == 2 and len(lines) == 1 and "stage_workers" in lines[0], res.stderr
    assert "--jobs" in subprocess.run([*cli, "run", "--help"], cwd=REPO, capture_output=True, text=True).stdout
