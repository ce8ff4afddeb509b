"""Progress off a terminal: plain lines with count, rate and ETA (a log file or a cluster job's output shows
how far a stage is), none under FACTORY_QUIET."""

from __future__ import annotations

from factory import progress


def test_plain_lines_when_not_a_terminal(monkeypatch, capsys):
    monkeypatch.delenv("FACTORY_QUIET", raising=False)
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.0)
    with progress.progress_bar("generate (hf)", total=4, unit="samples") as advance:
        advance(1)
        advance(2)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("generate (hf): 1/4 samples, ") and "samples/s, ETA " in lines[0]
    assert lines[-1].startswith("generate (hf): 3/4 samples")  # the final count, at the end
    assert len(lines) == 3


def test_quiet_prints_nothing(monkeypatch, capsys):
    monkeypatch.setenv("FACTORY_QUIET", "1")
    with progress.progress_bar("generate", total=2) as advance:
        advance(2)
    assert capsys.readouterr().err == ""
    assert progress.format_eta(75) == "1m15s" and progress.format_eta(3725) == "1h02m"
