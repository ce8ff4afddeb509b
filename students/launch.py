"""Where a student job runs: in this process, or under `accelerate launch` on N processes.

A job runs in-process when `launch == "single"` and `num_processes == 1`. Otherwise the stage
context is written to `ctx.out/launch/context.json` and the job re-enters through
`accelerate launch --config_file students/configs/<launch>.yaml --num_processes N -m students.job_main`
(`single` with N > 1 uses the DDP config). Without CUDA the launcher runs a copy of the config with
`use_cpu: true`, so the same file runs N CPU processes over gloo (how the tests exercise the
distributed path).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from core.atomic import dumps, write_text
from core.lifetime import die_with_parent
from students import preemption

CONFIGS = Path(__file__).resolve().parent / "configs"
REPO = Path(__file__).resolve().parent.parent


def should_launch(job) -> bool:
    """True when the job needs `accelerate launch` and we are not already inside it."""
    from students.job_main import ENV_FLAG

    if os.environ.get(ENV_FLAG) == "1":
        return False
    return not (job.launch == "single" and job.num_processes == 1)


def config_file(job) -> Path:
    name = "ddp" if job.launch == "single" else job.launch
    path = CONFIGS / f"{name}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"accelerate config for launch '{job.launch}' not found: {path}")
    return path


def effective_config(job, folder: Path) -> Path:
    """The shipped accelerate config; without CUDA a copy with `use_cpu: true` (torchrun + gloo).

    `accelerate launch --cpu` would fall back to a single process, so the CPU switch goes in the file."""
    import yaml

    from students.common import has_cuda

    shipped = config_file(job)
    if has_cuda():
        return shipped
    cfg = yaml.safe_load(shipped.read_text()) | {"use_cpu": True, "mixed_precision": "no"}
    return write_text(folder / f"{shipped.stem}-cpu.yaml", yaml.safe_dump(cfg, sort_keys=False))


def command(job, context_path: Path, summary_path: Path) -> list[str]:
    cfg = effective_config(job, context_path.parent)
    # Multi-node (recipes/slurm/train_zero3.sbatch): FACTORY_LAUNCH_PREFIX runs the launcher once per node
    # (e.g. `srun --ntasks-per-node=1`), FACTORY_ACCELERATE_ARGS adds/overrides accelerate flags
    # (--num_machines, --main_process_ip, --rdzv_backend c10d, ...; argparse keeps the last value).
    prefix = shlex.split(os.environ.get("FACTORY_LAUNCH_PREFIX", ""))
    extra = shlex.split(os.environ.get("FACTORY_ACCELERATE_ARGS", ""))
    # the port block factory/gpus.py leased to this stage, so concurrent GPU stages do not collide on 29500
    port = ["--main_process_port", os.environ["MASTER_PORT"]] if os.environ.get("MASTER_PORT") else []
    return [*prefix, sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(cfg),
            "--num_processes", str(job.num_processes), *port, *extra,
            "-m", "students.job_main", str(context_path), "--summary", str(summary_path)]


def launch(ctx, job) -> dict:
    """Run the stage under accelerate; returns process 0's summary. A failing job raises with its log path."""
    import json

    folder = ctx.out / "launch"
    context_path, summary_path, log_path = folder / "context.json", folder / "summary.json", folder / "launch.log"
    write_text(context_path, dumps({"name": ctx.name, "kind": ctx.kind, "config": ctx.config,
                                    "inputs": {k: str(v) for k, v in ctx.inputs.items()},
                                    "out": str(ctx.out)}))
    summary_path.unlink(missing_ok=True)
    cmd = command(job, context_path, summary_path)
    ctx.log("launch: " + " ".join(cmd))
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with open(log_path, "w", encoding="utf-8") as log, preemption.on_signal(ctx.out):  # ranks see the stop file
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                              preexec_fn=die_with_parent)  # `accelerate launch` dies with the stage
    if preemption.stop_file(ctx.out).exists():
        raise preemption.Preempted(f"student '{job.name}' preempted: the ranks saved a checkpoint in "
                                   f"{ctx.out / 'checkpoints'}; run the stage again to resume (see {log_path})")
    if proc.returncode != 0 or not summary_path.exists():
        raise RuntimeError(f"student '{job.name}' failed under accelerate (exit {proc.returncode}); see {log_path}")
    summary = json.loads(summary_path.read_text())
    return summary | {"launch": job.launch, "num_processes": job.num_processes}
