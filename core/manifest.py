"""Manifests: the record that makes a folder a complete, trustworthy artifact.

A folder counts as complete only when its manifest exists and every file it lists is present with
the recorded size (and, when checked, the recorded sha256). A truncated or garbled file is therefore
detected and the stage is rebuilt instead of silently reused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.atomic import write_json
from core.hashing import file_sha256

MANIFEST = "manifest.json"


def file_table(root: Path) -> dict[str, dict]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != MANIFEST and not p.name.startswith(".") and ".partial" not in p.parts:
            out[p.relative_to(root).as_posix()] = {"sha256": file_sha256(p), "size": p.stat().st_size}
    return out


def write_manifest(root: Path, record: dict) -> Path:
    record = dict(record)
    record["files"] = file_table(root)
    return write_json(root / MANIFEST, record)


def read_manifest(root: Path) -> dict | None:
    try:
        return json.loads((root / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def check_artifact(root: Path, expected_hash: str | None = None, full: bool = True) -> str | None:
    """None when `root` is a complete artifact, else a one-line reason it is not."""
    if not root.is_dir():
        return "missing"
    m = read_manifest(root)
    if m is None:
        return "no readable manifest"
    if expected_hash and m.get("hash") != expected_hash:
        return "manifest hash differs"
    for rel, info in m.get("files", {}).items():
        p = root / rel
        try:
            size = os.path.getsize(p)
        except OSError:
            return f"file missing: {rel}"
        if size != info["size"]:
            return f"file size changed: {rel}"
        if full and file_sha256(p) != info["sha256"]:
            return f"checksum mismatch: {rel}"
    return None
