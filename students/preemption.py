"""Save a checkpoint and stop when the cluster is about to take the node back (SIGTERM or SIGUSR1).

Slurm sends `--signal=B:USR1@120` (recipes/slurm/train_zero3.sbatch) to the batch shell two minutes
before the time limit or a preemption; the shell `exec`s the factory runner, so the runner gets it.
Without this, every step since the last `save_steps` checkpoint was lost.

How the signal reaches the trainer:
- a job training in this process: the handler sets a flag;
- a job under `accelerate launch` (students/launch.py): the stage process's handler writes the stop file
  `<ctx.out>/PREEMPT` (on the shared filesystem), which every rank checks after each optimizer step.
At the end of the step where any rank saw it (all ranks agree through one all-reduce, so none waits for
another in the save's collectives) the callback sets `control.should_save` and
`control.should_training_stop`: transformers writes `checkpoint-N` and `train()` returns. The stage then
fails with `Preempted` (never publishes a half-trained model); running it again resumes from
`checkpoint-N` (students.common.latest_checkpoint).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path

SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
STOP_FILE = "PREEMPT"


class Preempted(RuntimeError):
    """Training stopped on a signal after saving a checkpoint; run the stage again to resume."""


def stop_file(out: Path) -> Path:
    return Path(out) / STOP_FILE


@contextlib.contextmanager
def on_signal(out: Path):
    """While inside, SIGTERM / SIGUSR1 write the stop file instead of killing this process."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers: main thread only
        yield
        return
    path = stop_file(out)

    def handler(signum, frame):  # noqa: ARG001
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _any_rank(flag: bool) -> bool:
    """True when any rank's flag is set (an all-reduce under torch.distributed, else the flag itself)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return flag
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def callback(out: Path):
    """A TrainerCallback that saves and stops at the end of the step where the stop file appeared."""
    from transformers import TrainerCallback

    path = stop_file(out)

    class SaveOnSignal(TrainerCallback):
        stopped = False

        def on_step_end(self, args, state, control, **kwargs):
            if _any_rank(path.exists()):
                control.should_save = True
                control.should_training_stop = True
                self.stopped = True
            return control

    return SaveOnSignal()


@contextlib.contextmanager
def guard(trainer, out: Path):
    """Train inside: a signal saves a checkpoint and ends training, then `Preempted` is raised."""
    stop_file(out).unlink(missing_ok=True)  # left by the run this one resumes
    cb = callback(out)
    trainer.add_callback(cb)
    with on_signal(out):
        yield
    if cb.stopped:
        raise Preempted(f"preempted by {stop_file(out).read_text() if stop_file(out).exists() else 'a signal'} "
                        f"at step {trainer.state.global_step}: checkpoint saved in {Path(out) / 'checkpoints'}; "
                        "run the stage again to resume from it")
