"""The snapshot of TRL's config fields (what `factory validate` checks `trl:` keys against, without importing
TRL) equals `dataclasses.fields` of the installed classes, for every kind's class."""

from __future__ import annotations

import pytest

from students import kinds, trl_fields

TARGETS = sorted({kinds.module(k).Job.TRL_CONFIG for k in kinds.KIND_MODULES
                  if getattr(kinds.module(k).Job, "TRL_CONFIG", "")})


@pytest.mark.parametrize("target", TARGETS)
def test_snapshot_matches_the_installed_trl(target):
    assert trl_fields._snapshot() is not None, "snapshot is for another TRL: run python -m students.trl_fields"
    assert trl_fields.fields(target) == trl_fields.live(target)


def test_validate_does_not_import_trl():
    import subprocess
    import sys

    code = ("import sys; from factory.recipe import load_recipe; load_recipe('recipes/micro.yaml'); "
            "print('trl' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=trl_fields.SNAPSHOT.parent.parent).stdout.split()
    assert out == ["False", "False"]
