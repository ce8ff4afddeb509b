"""A process started with `preexec_fn=die_with_parent` dies when the process that started it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

STARTER = """
import subprocess, sys, time
from core.lifetime import die_with_parent
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                         preexec_fn=die_with_parent if sys.argv[1] == "yes" else None)
print(child.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux only")
@pytest.mark.parametrize("guarded", [True, False])
def test_child_dies_with_its_killed_parent(guarded):
    starter = subprocess.Popen([sys.executable, "-c", STARTER, "yes" if guarded else "no"], cwd=REPO,
                               stdout=subprocess.PIPE, text=True)
    child = int(starter.stdout.readline())
    try:
        starter.kill()  # SIGKILL: no cleanup code of the parent runs
        starter.wait()
        deadline = time.time() + 5
        while _alive(child) and time.time() < deadline:
            time.sleep(0.05)
        assert _alive(child) is (not guarded), "guarded children die, unguarded ones are orphaned"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)
