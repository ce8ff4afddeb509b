"""Light stage functions for testing the runner's mechanics (cache, resume, lock) without models.

They do real file work: each writes an output derived from its config and inputs, appends its name
to a call log, and can resume from a progress file left by an interrupted run. Environment knobs:
FAKE_STAGE_LOG (call log), FAKE_SLOW_STAGE (comma-separated stage names that take FAKE_SLOW_STEPS
steps of 0.3 s, reported through factory.progress), FAKE_NOISE (print to stdout and stderr like a
library would), FAKE_FAIL_STAGE (this stage raises ValueError,
or OSError ENOSPC with FAKE_FAIL_KIND=disk-full), FAKE_PID_DIR (each stage writes <name>.pid there).
Every stage records when it started and ended in `timing.json` (out.json is the deterministic part).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from factory import stages
from factory.progress import progress_bar
from core.atomic import write_json


def echo(ctx) -> dict:
    log = os.environ.get("FAKE_STAGE_LOG")
    if log:
        with open(log, "a") as f:
            f.write(ctx.name + "\n")
    started = time.time()
    pid_dir = os.environ.get("FAKE_PID_DIR")
    if pid_dir:
        Path(pid_dir, f"{ctx.name}.pid").write_text(str(os.getpid()))
    slow = ctx.name in os.environ.get("FAKE_SLOW_STAGE", "").split(",")
    steps = int(os.environ.get("FAKE_SLOW_STEPS", "10")) if slow else 1
    progress = ctx.out / "progress.json"
    done = json.loads(progress.read_text())["steps"] if progress.exists() else 0
    resumed_from = done
    if os.environ.get("FAKE_NOISE"):
        print(f"library noise on stdout from {ctx.name}", flush=True)
        print(f"library noise on stderr from {ctx.name}", file=sys.stderr, flush=True)
    with progress_bar("fake steps", total=steps, unit="steps") as advance:
        advance(done)
        for step in range(done, steps):
            if slow:
                time.sleep(0.3)
            write_json(progress, {"steps": step + 1})
            advance()
    upstream = {role: json.loads((Path(d) / "out.json").read_text())["digest"] for role, d in ctx.inputs.items()}
    digest = json.dumps([ctx.config, upstream], sort_keys=True)
    if os.environ.get("FAKE_FAIL_STAGE") == ctx.name:
        if os.environ.get("FAKE_FAIL_KIND") == "disk-full":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(ctx.out / "out.json"))
        raise ValueError(f"{ctx.name} was told to fail")
    write_json(ctx.out / "out.json", {"digest": hashlib.sha256(digest.encode()).hexdigest()[:16],
                                      "upstream": upstream})
    write_json(ctx.out / "timing.json", {"started": started, "ended": time.time(), "pid": os.getpid()})
    return {"resumed_from": resumed_from}


def install() -> None:
    for kind in list(stages.STAGE_ENTRIES):
        stages.STAGE_ENTRIES[kind] = "tests.factory.fake_stages:echo"


if __name__ == "__main__":
    install()
    from factory.cli import main

    main()


def calls(log) -> list[str]:
    """The stage names `echo` ran, in order, from its FAKE_STAGE_LOG file."""
    return log.read_text().split() if log.exists() else []


def default_sigint() -> None:
    """Popen `preexec_fn` for the Ctrl-C tests: a job started in the background by a non-interactive shell
    (`nohup … &`, some CI runners) inherits SIGINT ignored, Python keeps it ignored, and the run would
    never see the interrupt. Restore the default so SIGINT raises KeyboardInterrupt as at a terminal."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
