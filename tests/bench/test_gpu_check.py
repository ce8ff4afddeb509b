"""bench/gpu_check.py is what a GPU node runs to calibrate factory/memory.py: its `--smoke` mode (tiny shape,
CPU) must keep working so the script is not found broken on the day a GPU is there. No GPU needed."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_gpu_check_smoke_runs_on_cpu(tmp_path):
    out = tmp_path / "check.json"
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "bench/gpu_check.py", "--smoke", "--out", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    train, rollouts = report["train"], report["rollouts"]
    assert train["tokens_per_s"] > 0 and train["steps"] == 2 and train["loss"] > 0
    assert train["predicted_parts_gib"]["activations"] > 0  # factory.memory's model of the same step
    assert rollouts["hf_generate_tokens_per_s"] > 0


def test_gpu_check_refuses_a_cpu_machine_without_smoke():
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    proc = subprocess.run([sys.executable, "bench/gpu_check.py"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=os.environ | {"PYTHONPATH": str(REPO)})
    assert proc.returncode == 2 and "--smoke" in proc.stderr
