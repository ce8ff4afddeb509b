"""Per-shard claims for many generate workers (Slurm array, several nodes, a re-run beside a live one).

A worker may write a shard only while it holds the shard's lease, `samples/shard-00000.lease`:
- claim: create the file with O_CREAT | O_EXCL (atomic on local and NFSv3+ filesystems), holding the
  owner's id (host, pid, random tag);
- heartbeat: a thread renews the file's mtime every ttl/4, and notices when the file no longer
  names its owner (taken over after a stall longer than the ttl): the lease is then `lost` and the
  worker stops writing that shard (`check` raises);
- expiry: a lease whose mtime is older than `teacher.lease_ttl_s` belongs to a dead worker, and so
  does one naming a process of this host that no longer exists (a local crash is taken over at
  once, without waiting for the ttl). A taker
  renames it aside (only one rename of a path can succeed), checks that what it moved is really
  stale (else it links it back, since a fresh claim raced in), and then claims with O_EXCL like
  anyone else. The dead worker's partial file is resumed as after a crash: no key lost or repeated.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path


class LeaseLost(RuntimeError):
    pass


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _age(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None


def _owner(path: Path) -> str | None:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("owner")
    except (OSError, ValueError):
        return None


class Lease:
    def __init__(self, path: Path, owner: str, ttl_s: float):
        self.path, self.owner, self.ttl_s = path, owner, ttl_s
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{path.name}", daemon=True)
        self._thread.start()

    @classmethod
    def try_claim(cls, path: Path, owner: str, ttl_s: float) -> "Lease | None":
        """The lease, or None while another live worker holds it."""
        if _create(path, owner):
            return cls(path, owner, ttl_s)
        age = _age(path)
        if age is None or (age <= ttl_s and not _dead_here(path)):
            return None
        aside = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:  # another taker was first
            return None
        if (_age(aside) or 0) <= ttl_s and not _dead_here(aside):  # a fresh claim raced in before the rename
            try:
                os.link(aside, path)
            except FileExistsError:
                pass
            aside.unlink(missing_ok=True)
            return None
        aside.unlink(missing_ok=True)
        return cls(path, owner, ttl_s) if _create(path, owner) else None

    def _beat(self) -> None:
        interval = max(self.ttl_s / 4, 0.05)
        while not self._stop.wait(interval):
            if _owner(self.path) != self.owner:
                self.lost = True
                return
            try:
                os.utime(self.path)
            except FileNotFoundError:
                self.lost = True
                return

    def check(self) -> None:
        if self.lost:
            raise LeaseLost(f"{self.path.name}: claim taken over by another worker (stalled > "
                            f"{self.ttl_s:g}s?); stopped writing this shard")

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if not self.lost and _owner(self.path) == self.owner:
            self.path.unlink(missing_ok=True)


def _dead_here(path: Path) -> bool:
    """The lease names a process on this host that is gone (killed, crashed)."""
    host, _, rest = (_owner(path) or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _create(path: Path, owner: str) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps({"owner": owner, "claimed_at": time.time()}))
        f.flush()
        os.fsync(f.fileno())
    return True
