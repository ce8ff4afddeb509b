"""Run one student job from a serialized stage context: the entry point of `accelerate launch`.

    python -m students.job_main <context.json> [--summary summary.json]
    accelerate launch --config_file students/configs/ddp.yaml --num_processes 2 -m students.job_main ctx.json

The context file holds `name`, `kind`, `config`, `inputs` and `out` of a factory.stages.StageContext
(written by students.launch). Every process runs the job; process 0 writes the summary.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

ENV_FLAG = "FACTORY_JOB_MAIN"


def load_context(path: Path):
    from factory.stages import StageContext

    data = json.loads(Path(path).read_text())
    missing = [k for k in ("name", "kind", "config", "inputs", "out") if k not in data]
    if missing:
        raise ValueError(f"{path}: context lacks {', '.join(missing)}")
    return StageContext(name=data["name"], kind=data["kind"], config=data["config"],
                        inputs={k: Path(v) for k, v in data["inputs"].items()}, out=Path(data["out"]),
                        recipe=None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("context", type=Path)
    parser.add_argument("--summary", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ[ENV_FLAG] = "1"  # the job runs here; do not launch again
    from core.atomic import write_json
    from factory.stages import stage_function

    ctx = load_context(args.context)
    summary = stage_function(ctx.kind)(ctx)
    if args.summary and int(os.environ.get("RANK", "0")) == 0:
        write_json(args.summary, summary)


if __name__ == "__main__":
    main()
