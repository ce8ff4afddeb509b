"""Fixtures shared by the runner tests: every stage kind replaced by the fast, torch-free fake stage."""

from __future__ import annotations

import pytest

from factory import runner
from tests.factory import fake_stages


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Route every stage to `fake_stages.echo`; returns the log file its calls are appended to."""
    log = tmp_path / "calls.log"
    monkeypatch.setenv("FAKE_STAGE_LOG", str(log))
    monkeypatch.setattr(runner, "stage_function", lambda kind: fake_stages.echo)
    return log
