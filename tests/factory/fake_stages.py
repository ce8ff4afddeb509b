"""Light stage functions for testing the runner's mechanics (cache, resume, lock) without models.

They do real file work: each writes an output derived from its config and inputs, appends its name
to a call log, and can resume from a progress file left by an interrupted run.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from factory import stages
from factory.atomic import write_json


def echo(ctx) -> dict:
    log = os.environ.get("FAKE_STAGE_LOG")
    if log:
        with open(log, "a") as f:
            f.write(ctx.name + "\n")
    slow = os.environ.get("FAKE_SLOW_STAGE") == ctx.name
    progress = ctx.out / "progress.json"
    done = json.loads(progress.read_text())["steps"] if progress.exists() else 0
    resumed_from = done
    for step in range(done, 10 if slow else 1):
        if slow:
            time.sleep(0.3)
        write_json(progress, {"steps": step + 1})
    upstream = {role: json.loads((Path(d) / "out.json").read_text())["digest"] for role, d in ctx.inputs.items()}
    digest = json.dumps([ctx.config, upstream], sort_keys=True)
    write_json(ctx.out / "out.json", {"digest": str(hash(digest)), "upstream": upstream})
    return {"resumed_from": resumed_from}


def install() -> None:
    for kind in list(stages.STAGE_ENTRIES):
        stages.STAGE_ENTRIES[kind] = "tests.factory.fake_stages:echo"


if __name__ == "__main__":
    install()
    from factory.cli import main

    main()
