"""Processes the factory starts die with the process that started them, so a killed run leaves no orphan.

An orphan is not harmless: a stage child keeps writing into a `.partial` folder that the resumed run is
about to reuse, and an orphaned vLLM worker keeps its GPU memory, so the resumed run's worker runs out
of it. Linux lets a process ask for SIGKILL when its parent exits (`prctl(PR_SET_PDEATHSIG)`); the
request survives `exec`, so it also works as a `subprocess.Popen(preexec_fn=...)`. Elsewhere it is a no-op.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
# Loaded now, in the parent: a `preexec_fn` runs between fork and exec, where loading a library could
# deadlock on a lock another thread of the parent held at fork time.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux).

    The parent is the *thread* that forked us: call it from a child whose parent thread lives as long
    as the child should."""
    if _LIBC is None:
        return
    if _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
