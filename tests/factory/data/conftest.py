"""Fixtures for dataset-building tests: a StageContext factory over tmp folders (no runner, no recipe file)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from factory.stages import StageContext


@pytest.fixture
def make_ctx(tmp_path):
    """Build a StageContext writing into tmp_path/<name>; relative recipe paths resolve against tmp_path."""

    def make(kind: str, config: dict, inputs: dict | None = None, name: str | None = None) -> StageContext:
        out = tmp_path / (name or kind)
        out.mkdir(parents=True, exist_ok=True)
        recipe = SimpleNamespace(resolve_path=lambda p: (tmp_path / p) if not Path(p).is_absolute() else Path(p))
        return StageContext(name=name or kind, kind=kind, config=config, inputs=inputs or {}, out=out, recipe=recipe)

    return make
