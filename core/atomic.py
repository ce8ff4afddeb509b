"""Atomic writes: temp file + fsync + rename, so a crash never leaves a half-written file.

Every artifact a user paid compute for goes through these helpers. A reader either sees the old
file, the new file, or no file - never a torn one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


class WriteError(OSError):
    """A write failed (disk full, permission denied); the message names the path."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically; on failure nothing is left behind and the error names the path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise WriteError(e.errno, e.strerror or str(e), str(path)) from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(e.errno, e.strerror or str(e), str(path)) from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def _json_default(o: Any) -> Any:
    # numpy scalars/arrays (lm-eval results), Paths and sets show up in summaries.
    if hasattr(o, "item") and callable(o.item):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def dumps(obj: Any, indent: int | None = 2) -> str:
    return json.dumps(obj, indent=indent, sort_keys=True, default=_json_default, ensure_ascii=False)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_text(path, dumps(obj) + "\n")


def write_jsonl(path: str | os.PathLike, rows: list[dict]) -> Path:
    return write_text(path, "".join(dumps(r, indent=None) + "\n" for r in rows))


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def remove_stale_temps(root: Path) -> None:
    """Delete the `.<name>.*.tmp` files that `write_bytes` leaves when its process is SIGKILLed mid-write: a resumed
    folder carries them along, and a published artifact must not."""
    for p in Path(root).rglob(".*.tmp"):
        if p.is_file():
            p.unlink(missing_ok=True)


def publish_dir(tmp_dir: Path, final_dir: Path) -> None:
    """Move a finished temporary folder into place with one rename (replacing a stale one). Every write into it
    is done by now, so any atomic-write temp inside is a killed earlier attempt's."""
    remove_stale_temps(tmp_dir)
    if final_dir.exists():
        shutil.rmtree(final_dir)
    try:
        os.replace(tmp_dir, final_dir)
    except OSError as e:
        raise WriteError(e.errno, e.strerror or str(e), str(final_dir)) from e
    _fsync_dir(final_dir.parent)
