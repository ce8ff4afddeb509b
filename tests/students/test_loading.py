"""Load order for ZeRO-3: the trainer config (which registers the DeepSpeed config) exists before the
weights are read, so `from_pretrained` builds the model inside `deepspeed.zero.Init` (partitioned).

Before students/loading.py every job called `from_pretrained` first: each rank held the whole model and a
70B student could not start. The probe runs in a fresh process with the environment accelerate's own
launcher gives a rank of students/configs/zero3.yaml (deepspeed 0.19.8 imports on CPU)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from students import loading

REPO = Path(__file__).resolve().parents[2]
KINDS = ("sft", "dpo", "simpo", "orpo", "grpo", "distill")  # every trained kind (students/kinds.py)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_zero3_is_enabled_when_the_weights_load(tiny_model_dir, tmp_path):
    pytest.importorskip("deepspeed")
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(REPO / "tests/students/zero3_probe.py"), ",".join(KINDS),
                           str(tiny_model_dir), str(_free_port()), str(tmp_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("PROBE ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-4000:]
    seen = json.loads(line[len("PROBE "):])
    assert set(seen) == set(KINDS)
    for kind, at_load in seen.items():
        assert at_load["zero3_at_load"] is True, f"{kind}: weights loaded before the DeepSpeed config existed"
        assert at_load["attn_implementation"] == "sdpa"  # no flash-attn on CPU


def test_attention_choice(monkeypatch):
    job = type("J", (), {"name": "s", "attn_implementation": None})()
    monkeypatch.setattr(loading, "flash_attn_installed", lambda: True)
    monkeypatch.setattr(loading.common, "has_cuda", lambda: True)
    assert loading.attn_implementation(job) == "flash_attention_2"
    monkeypatch.setattr(loading, "flash_attn_installed", lambda: False)
    assert loading.attn_implementation(job) == "sdpa"
    job.attn_implementation = "flash_attention_2"
    with pytest.raises(ValueError, match="flash-attn"):
        loading.attn_implementation(job)


def test_loading_needs_the_config_first(tiny_model_dir):
    job = type("J", (), {"name": "s", "attn_implementation": None, "trl": {}})()
    with pytest.raises(TypeError, match="config"):
        loading.load_for_training(str(tiny_model_dir), job, None)
