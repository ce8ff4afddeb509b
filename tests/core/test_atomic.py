"""Atomic writes: a published folder never carries the temp file of a write that was killed mid-way."""

from __future__ import annotations

from core.atomic import publish_dir, write_json


def test_publish_drops_temps_of_a_killed_write(tmp_path):
    work, final = tmp_path / "stage.partial", tmp_path / "stage"
    write_json(work / "manifest.json", {"ok": True})
    (work / "sub").mkdir()
    # what write_bytes leaves when SIGKILL lands between mkstemp and os.replace (seen in tests/test_kills.py)
    (work / ".manifest.json.d0kj_wr8.tmp").write_text("{")
    (work / "sub" / ".rows.jsonl.x1.tmp").write_text("")
    publish_dir(work, final)
    assert sorted(p.name for p in final.rglob("*")) == ["manifest.json", "sub"]
    assert not work.exists()
