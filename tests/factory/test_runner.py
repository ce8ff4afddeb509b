"""The runner: content-addressed caching, downstream-only re-runs, resume after a kill, lock, corruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from factory import runner
from core.manifest import read_manifest
from factory.recipe import load_recipe
from tests.conftest import REPO, minimal_recipe
from tests.factory import fake_stages


def _recipe_dict(tmp_path) -> dict:
    data = minimal_recipe(run_dir=str(tmp_path / "runs"))
    data["students"].append({"name": "short", "kind": "dpo", "init": {"student": "long"}})
    return data


def test_change_one_field_reruns_only_downstream(tmp_path, write_recipe, fake):
    data = _recipe_dict(tmp_path)
    recipe = load_recipe(write_recipe(data))
    planned = runner.run(recipe)
    all_names = [p.stage.name for p in planned]
    assert fake_stages.calls(fake) == all_names
    before = {p.stage.name: read_manifest(p.dir)["started_at"] for p in planned}

    # Second run: nothing to do.
    fake.unlink()
    runner.run(recipe)
    assert fake_stages.calls(fake) == []

    # Change the SFT job's learning rate: only it and what consumes it are stale.
    data["students"][0]["learning_rate"] = 3e-4
    recipe = load_recipe(write_recipe(data))
    stale = {p.stage.name for p in runner.plan(recipe) if not p.cached}
    assert stale == {"student.long", "student.short", "eval.long", "eval.short", "report"}
    runner.run(recipe)
    assert sorted(fake_stages.calls(fake)) == sorted(stale)
    after = {p.stage.name: read_manifest(p.dir)["started_at"] for p in runner.plan(recipe)}
    for name in set(all_names) - stale:
        assert after[name] == before[name], name


def test_gate_change_reruns_only_report(tmp_path, write_recipe, fake):
    data = _recipe_dict(tmp_path)
    runner.run(load_recipe(write_recipe(data)))
    data["eval"]["gates"][0]["rules"] = ["heldout.acc >= 0.2"]
    stale = {p.stage.name for p in runner.plan(load_recipe(write_recipe(data))) if not p.cached}
    assert stale == {"report"}


def test_until_and_force(tmp_path, write_recipe, fake):
    recipe = load_recipe(write_recipe(_recipe_dict(tmp_path)))
    runner.run(recipe, until="verify")
    assert fake_stages.calls(fake) == ["prompts", "generate", "verify"]
    fake.unlink()
    runner.run(recipe, until="verify", force=("generate",))
    assert fake_stages.calls(fake) == ["generate"]
    with pytest.raises(KeyError, match="unknown stage 'nope'"):
        runner.run(recipe, until="nope")


def test_corrupt_artifact_is_detected_and_rebuilt(tmp_path, write_recipe, fake):
    recipe = load_recipe(write_recipe(_recipe_dict(tmp_path)))
    planned = runner.run(recipe)
    verify_dir = next(p.dir for p in planned if p.stage.name == "verify")
    out = verify_dir / "out.json"
    text = out.read_text()
    out.write_text(text.replace('"digest": "', '"digest": "X', 1)[:len(text)])  # same size, different bytes
    status = {p.stage.name: p.status for p in runner.plan(recipe, full_check=True)}
    assert status["verify"].startswith("corrupt: checksum mismatch")
    fake.unlink()
    runner.run(recipe)
    assert fake_stages.calls(fake) == ["verify"]
    assert runner.plan(recipe, full_check=True)[3].status == "cached"


def test_truncated_manifest_is_not_trusted(tmp_path, write_recipe, fake):
    recipe = load_recipe(write_recipe(_recipe_dict(tmp_path)))
    planned = runner.run(recipe)
    m = planned[0].dir / "manifest.json"
    m.write_text(m.read_text()[:40])
    assert runner.plan(recipe)[0].status == "corrupt: no readable manifest"


def _cli(recipe_path, tmp_path, *args, env=None):
    return subprocess.Popen([sys.executable, "-m", "tests.factory.fake_stages", *args, str(recipe_path)],
                            cwd=REPO, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=fake_stages.default_sigint)


def _wait_for(path_glob, root, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        hits = list(root.glob(path_glob))
        if hits:
            return hits[0]
        time.sleep(0.05)
    raise AssertionError(f"{path_glob} never appeared under {root}")


@pytest.mark.slow
def test_kill_during_stage_then_resume(tmp_path, write_recipe):
    path = write_recipe(_recipe_dict(tmp_path))
    log = tmp_path / "calls.log"
    env = {"FAKE_STAGE_LOG": str(log), "FAKE_SLOW_STAGE": "verify"}
    proc = _cli(path, tmp_path, "run", env=env)
    progress = _wait_for("verify-*.partial/progress.json", tmp_path / "runs" / "t")
    time.sleep(0.7)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = json.loads(progress.read_text())["steps"]
    assert 0 < done_before < 10
    finished = {p.stage.name: read_manifest(p.dir)["started_at"]
                for p in runner.plan(load_recipe(path)) if p.cached}
    assert set(finished) == {"prompts", "generate"}

    proc = _cli(path, tmp_path, "run", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    plan = runner.plan(load_recipe(path))
    assert all(p.cached for p in plan)
    for name, started in finished.items():  # finished stages were not recomputed
        assert read_manifest(next(p.dir for p in plan if p.stage.name == name))["started_at"] == started
    verify = read_manifest(next(p.dir for p in plan if p.stage.name == "verify"))
    assert verify["summary"]["resumed_from"] >= done_before  # resumed inside the stage, not from scratch


@pytest.mark.slow
def test_sigint_stops_cleanly_with_resume_hint(tmp_path, write_recipe):
    path = write_recipe(_recipe_dict(tmp_path))
    proc = _cli(path, tmp_path, "run", env={"FAKE_SLOW_STAGE": "generate"})
    _wait_for("generate-*.partial/progress.json", tmp_path / "runs" / "t")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in err and f"factory run {path}" in err and "Traceback" not in err
    assert list((tmp_path / "runs" / "t").glob("generate-*.partial"))


def test_second_run_on_same_folder_exits_with_clear_message(tmp_path, write_recipe):
    path = write_recipe(_recipe_dict(tmp_path))
    first = _cli(path, tmp_path, "run", env={"FAKE_SLOW_STAGE": "prompts"})
    _wait_for("prompts-*.partial/progress.json", tmp_path / "runs" / "t")
    second = _cli(path, tmp_path, "run")
    _, err = second.communicate(timeout=60)
    assert second.returncode == 3
    assert "another factory run (pid" in err and "Traceback" not in err
    report = _cli(path, tmp_path, "report")  # every command that runs stages takes the lock the same way
    _, err = report.communicate(timeout=60)
    assert report.returncode == 3 and "another factory run (pid" in err and "Traceback" not in err, err
    first.kill()
    first.wait()
    # The killed holder's lock is released by the kernel: a new run proceeds.
    third = _cli(path, tmp_path, "run")
    _, err = third.communicate(timeout=60)
    assert third.returncode == 0, err


def test_read_only_run_folder_gives_one_line_naming_the_path(tmp_path, write_recipe):
    if os.geteuid() == 0:
        runs = tmp_path / "runs"
        runs.mkdir()
        # root ignores permission bits: use a path under a regular file instead (ENOTDIR), same code path
        (runs / "t").write_text("not a folder")
    else:
        runs = tmp_path / "runs"
        runs.mkdir(mode=0o500)
    proc = _cli(write_recipe(_recipe_dict(tmp_path)), tmp_path, "run")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("cannot write ") and str(runs / "t") in lines[0], err


def test_disk_full_leaves_nothing_half_written(tmp_path):
    from core.atomic import WriteError, write_bytes

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this machine")
    target = tmp_path / "artifact.bin"
    target.write_bytes(b"old complete content")
    # Simulate ENOSPC on the data write: the temp file is removed and the old file is intact.
    real_fdopen = os.fdopen

    def full_fdopen(fd, *a, **k):
        os.dup2(os.open("/dev/full", os.O_WRONLY), fd)
        return real_fdopen(fd, *a, **k)

    import core.atomic as atomic

    orig = atomic.os.fdopen
    atomic.os.fdopen = full_fdopen
    try:
        with pytest.raises(WriteError) as err:
            write_bytes(target, b"x" * 100_000)
    finally:
        atomic.os.fdopen = orig
    assert err.value.filename == str(target) and "No space left" in err.value.strerror
    assert target.read_bytes() == b"old complete content"
    assert [p.name for p in tmp_path.iterdir()] == ["artifact.bin"]
