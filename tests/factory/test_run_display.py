"""One live display for a run: a line per running stage (steps, rate, ETA) fed by each stage's progress
file, the libraries' own bars folded into it, and a parallel child's output kept in its stage.log."""

from __future__ import annotations

import io
import json
import sys
from types import SimpleNamespace

from rich.console import Console

from core.manifest import read_manifest
from factory import progress, runner
from factory.recipe import load_recipe
from factory.run_display import PROGRESS_NAME, RunDisplay
from factory.stage_run import output_log
from tests.factory.test_parallel import SLOW_PAIR, _diamond


def test_parallel_run_prints_a_line_per_running_stage_and_keeps_child_output_in_its_log(
        tmp_path, write_recipe, fake, monkeypatch, capfd):
    monkeypatch.delenv("FACTORY_QUIET", raising=False)
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.25)
    monkeypatch.setenv("FAKE_SLOW_STAGE", SLOW_PAIR)
    monkeypatch.setenv("FAKE_SLOW_STEPS", "8")
    monkeypatch.setenv("FAKE_NOISE", "1")
    planned = runner.run(load_recipe(write_recipe(_diamond(tmp_path / "runs"))), workers=2)
    captured = capfd.readouterr()
    terminal = captured.out + captured.err

    for name in ("student.a", "student.b"):
        lines = [ln for ln in terminal.splitlines() if ln.startswith(f"{name}: fake steps ")]
        assert lines, f"no progress line for {name} in:\n{terminal}"
        assert any("/8 steps, " in ln and "steps/s" in ln and "ETA " in ln for ln in lines), lines
    assert "library noise" not in terminal, "a child's own output reached the runner's terminal"
    assert "run     student.a" in terminal and "done    student.a in " in terminal

    stage = next(p for p in planned if p.stage.name == "student.a")
    log = output_log(stage).read_text()
    assert "library noise on stdout from student.a" in log and "library noise on stderr from student.a" in log
    assert not (stage.dir / PROGRESS_NAME).exists()
    assert PROGRESS_NAME not in json.dumps(read_manifest(stage.dir)["files"])
    assert all(p.cached for p in runner.plan(load_recipe(write_recipe(_diamond(tmp_path / "runs"))), full_check=True))


def test_live_lines_show_count_rate_and_eta_at_a_terminal(tmp_path, monkeypatch):
    monkeypatch.delenv("FACTORY_QUIET", raising=False)
    monkeypatch.setenv(progress.PROGRESS_ENV, str(tmp_path / PROGRESS_NAME))
    monkeypatch.setattr(progress, "FILE_EVERY_S", 0.0)
    out = io.StringIO()
    display = RunDisplay(Console(file=out, force_terminal=True, width=160, color_system=None), live=True)
    display.started("student.long", tmp_path)
    with progress.progress_bar("train", total=10, unit="steps") as advance:
        advance(3, note="loss 0.52")
        display.console.print(display)
    text = out.getvalue()
    assert "student.long" in text and "train" in text and "3/10 steps" in text and "loss 0.52" in text
    assert "ETA " in text
    display.finished("student.long")
    assert display.lines() == []


def test_library_tqdm_bars_report_to_the_stage_and_draw_nothing(tmp_path, monkeypatch, capfd):
    from tqdm import std, tqdm

    monkeypatch.delenv("FACTORY_QUIET", raising=False)
    monkeypatch.setenv(progress.PROGRESS_ENV, str(tmp_path / "p.json"))
    original = std.tqdm.__dict__["__init__"]
    with progress.folded_library_bars():
        for _ in tqdm(range(50), desc="Running generate_until requests", file=sys.stderr, mininterval=0):
            pass
    assert "generate_until" not in capfd.readouterr().err
    state = progress.read_progress(tmp_path / "p.json")
    assert state["description"] == "Running generate_until requests" and state["done"] == 50 == state["total"]
    assert std.tqdm.__dict__["__init__"] is original, "tqdm must be restored after the stage"


def test_trainer_callback_reports_steps_of_max_steps_and_the_loss(tmp_path, monkeypatch):
    monkeypatch.delenv("FACTORY_QUIET", raising=False)
    monkeypatch.setenv(progress.PROGRESS_ENV, str(tmp_path / "p.json"))
    monkeypatch.setattr(progress, "FILE_EVERY_S", 0.0)
    cb = progress.trainer_progress_callback()
    state = SimpleNamespace(is_world_process_zero=True, max_steps=20, global_step=4)  # resumed at step 4
    cb.on_train_begin(None, state, None)
    state.global_step = 7
    cb.on_step_end(None, state, None)
    cb.on_log(None, state, None, logs={"loss": 0.4321})
    got = progress.read_progress(tmp_path / "p.json")
    assert (got["done"], got["total"], got["unit"], got["note"]) == (7, 20, "steps", "loss 0.432")
    cb.on_train_end(None, state, None)
