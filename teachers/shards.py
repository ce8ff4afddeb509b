"""Shard files of the generate stage: assignment, append-only partials, verified completion.

Layout inside the stage folder:

    samples/shard-00000.jsonl            complete shard, rows sorted by (prompt_id, sample_idx)
    samples/shard-00000.manifest.json    sha256, count, tokens, wall time, throughput
    samples/shard-00000.partial.jsonl    append-only work file of an unfinished shard
    samples/shard-00000.failures.jsonl   samples that failed this run (kept apart, retried on resume)
    samples/shard-00000.lease            the claim of the worker writing the shard (teachers.claims)

A shard counts as complete only when its manifest exists and the file's sha256 and row count match
it; anything else is regenerated. The partial file is appended one whole batch at a time and fsynced;
a torn last line (a kill mid-write) is cut off on resume, and rows already there are never written
again, so no (prompt_id, sample_idx) key is lost or duplicated. The manifest is written after the
shard and the partial removed after the manifest, so every crash point leaves a resumable state.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from core.atomic import dumps, write_json, write_text
from core.hashing import file_sha256


def assign_shards(prompts: list[dict], num_shards: int) -> list[list[dict]]:
    """Round-robin over the prompt file's order: deterministic, and shards differ in size by at most one."""
    return [prompts[i::num_shards] for i in range(num_shards)]


@dataclass(frozen=True)
class ShardPaths:
    root: Path
    index: int

    @property
    def stem(self) -> str:
        return f"shard-{self.index:05d}"

    @property
    def shard(self) -> Path:
        return self.root / f"{self.stem}.jsonl"

    @property
    def manifest(self) -> Path:
        return self.root / f"{self.stem}.manifest.json"

    @property
    def partial(self) -> Path:
        return self.root / f"{self.stem}.partial.jsonl"

    @property
    def failures(self) -> Path:
        return self.root / f"{self.stem}.failures.jsonl"

    @property
    def lease(self) -> Path:
        return self.root / f"{self.stem}.lease"


def shard_problem(paths: ShardPaths) -> str | None:
    """None when the shard is complete and matches its manifest, else what is wrong with it."""
    if not paths.manifest.exists():
        return "no manifest"
    if not paths.shard.exists():
        return "manifest without shard file"
    try:
        manifest = json.loads(paths.manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        return f"unreadable manifest: {e}"
    if file_sha256(paths.shard) != manifest.get("sha256"):
        return "checksum mismatch"
    with open(paths.shard, "rb") as f:
        if sum(1 for _ in f) != manifest.get("count"):
            return "row count mismatch"
    return None


def discard(paths: ShardPaths) -> None:
    """Drop a corrupt shard and its manifest (the partial, if any, is kept: its rows are still valid)."""
    paths.manifest.unlink(missing_ok=True)
    paths.shard.unlink(missing_ok=True)


def read_partial(path: Path) -> list[dict]:
    """Rows of a partial file; a torn last line is cut off the file so appends continue cleanly."""
    if not path.exists():
        return []
    data = path.read_bytes()
    good_end = data.rfind(b"\n") + 1
    rows = []
    for line in data[:good_end].splitlines():
        if line.strip():
            rows.append(json.loads(line))
    if good_end != len(data):
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return rows


class PartialWriter:
    """Append-only, one fsync per batch: what returned from `append` survives a kill -9."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "ab")

    def append(self, rows: list[dict]) -> None:
        if not rows:
            return
        self.f.write("".join(dumps(r, indent=None) + "\n" for r in rows).encode("utf-8"))
        self.f.flush()
        os.fsync(self.f.fileno())

    def close(self) -> None:
        self.f.close()


def finalize(paths: ShardPaths, rows: list[dict], expected_keys: set[tuple[str, int]], stats: dict) -> dict:
    """Check the key set, write the sorted shard and its manifest atomically, drop the partial."""
    keys = [(r["prompt_id"], r["sample_idx"]) for r in rows]
    if len(keys) != len(set(keys)):
        raise RuntimeError(f"{paths.partial}: duplicated (prompt_id, sample_idx) keys")
    missing, extra = expected_keys - set(keys), set(keys) - expected_keys
    if missing or extra:
        raise RuntimeError(f"{paths.stem}: {len(missing)} keys missing, {len(extra)} unexpected")
    rows = sorted(rows, key=lambda r: (r["prompt_id"], r["sample_idx"]))
    write_text(paths.shard, "".join(dumps(r, indent=None) + "\n" for r in rows))
    manifest = {"shard": paths.index, "sha256": file_sha256(paths.shard), "count": len(rows),
                "prompts": len({k[0] for k in keys}), "tokens": sum(r["completion_tokens"] for r in rows),
                **stats}
    write_json(paths.manifest, manifest)
    paths.partial.unlink(missing_ok=True)
    paths.failures.unlink(missing_ok=True)
    return manifest
