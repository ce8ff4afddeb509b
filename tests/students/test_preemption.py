"""Preemption: SIGUSR1 (what `#SBATCH --signal=B:USR1@120` sends) makes a running SFT save a checkpoint and stop
with a clear error instead of losing the steps since the last save; the next run resumes from that checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _context(tmp_path: Path, model_dir: Path, data_dir: Path, max_steps: int) -> Path:
    job = {"name": "long", "kind": "sft", "init": {"path": str(model_dir)}, "max_steps": max_steps,
           "trl": {"save_steps": 3}, "per_device_train_batch_size": 2, "max_length": 64, "learning_rate": 1e-3}
    ctx = {"name": "student.long", "kind": "sft", "config": {"job": job}, "inputs": {"data": str(data_dir)},
           "out": str(tmp_path / "out")}
    path = tmp_path / f"context-{max_steps}.json"
    path.write_text(json.dumps(ctx))
    return path


def _start(context: Path, summary: Path) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                        "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "students.job_main", str(context), "--summary", str(summary)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _checkpoints(out: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("checkpoint-*")
                  if (p / "trainer_state.json").exists())


@pytest.mark.slow
def test_sigusr1_saves_a_checkpoint_and_the_next_run_resumes(tmp_path, tiny_model_dir, data_dir):
    out, summary = tmp_path / "out", tmp_path / "summary.json"
    proc = _start(_context(tmp_path, tiny_model_dir, data_dir, max_steps=100_000), summary)
    try:
        deadline = time.time() + 240
        while not _checkpoints(out) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)  # training is under way once the first periodic checkpoint exists
        assert _checkpoints(out), "no periodic checkpoint: training never started"
        proc.send_signal(signal.SIGUSR1)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0 and "preempted by SIGUSR1 at step" in output, output[-3000:]
    step = int(output.split("preempted by SIGUSR1 at step ")[1].split(":")[0])
    assert _checkpoints(out)[-1] == step  # saved at the step it stopped on, not only at the last save_steps
    assert not (out / "model").exists() and not summary.exists()  # nothing published half-trained

    resumed = _start(_context(tmp_path, tiny_model_dir, data_dir, max_steps=step + 2), summary)
    output, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, output[-3000:]
    assert f"resuming from {out / 'checkpoints' / f'checkpoint-{step}'}" in (out / "stage.log").read_text()
    assert json.loads(summary.read_text())["steps"] == step + 2 and (out / "model" / "config.json").exists()


def test_the_sbatch_template_asks_for_the_signal():
    script = (REPO / "recipes" / "slurm" / "train_zero3.sbatch").read_text()
    assert "#SBATCH --signal=B:USR1@" in script  # B: the batch shell, which has become the runner:
    assert 'exec "$FACTORY" run' in script
