"""The vertical slice end to end on tiny sizes: micro.yaml shrunk, every real stage, then a no-op re-run.

prompts (reasoning-gym) -> teacher bootstrap -> sampling -> verification -> datasets -> TRL SFT student
-> evaluation on held-out prompts -> gates -> report. Asserts on the files a user would open.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO


SHIPPED_TEACHER = REPO / "teachers" / "assets" / "micro-teacher"
FAKE_SECRETS = {"HF_TOKEN": "hf_e2eFakeTokenThatMustNeverBeWritten0123",
                "OPENAI_API_KEY": "sk-e2eFakeKeyThatMustNeverBeWritten0123"}


def shrink_micro(tmp_path) -> dict:
    """micro.yaml at test size: the shipped bootstrap teacher (made by `make micro-teacher`), few prompts."""
    data = yaml.safe_load((REPO / "recipes" / "micro.yaml").read_text())
    data["name"] = "micro-e2e"
    data["run_dir"] = str(tmp_path / "runs")
    data["teacher"] = {"model": str(SHIPPED_TEACHER), "backend": "transformers"}
    data["prompts"]["sources"][0]["size"] = 16
    data["prompts"]["eval_sets"][0]["size"] = 8
    data["generation"].update(n=4, shards=2)
    long = next(s for s in data["students"] if s["name"] == "long")
    data["students"] = [dict(long, max_steps=2)]
    data["eval"].update(k=2, batch_size=16)
    data["eval"]["gates"] = [g for g in data["eval"]["gates"] if g["students"] == ["long"]]
    return data


def _factory(*args, cwd):
    import os

    return subprocess.run([sys.executable, "-m", "factory.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600, env={**os.environ, **FAKE_SECRETS})


@pytest.mark.slow
def test_micro_slice_end_to_end_then_cached(tmp_path):
    recipe = tmp_path / "micro-e2e.yaml"
    recipe.write_text(yaml.safe_dump(shrink_micro(tmp_path), sort_keys=False))
    proc = _factory("run", str(recipe), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = proc.stdout + proc.stderr
    root = tmp_path / "runs" / "micro-e2e"
    dirs = {p.name.rsplit("-", 1)[0]: p for p in root.iterdir() if p.is_dir() and not p.name.endswith(".partial")}
    for stage in ("prompts", "generate", "verify", "datasets", "eval.teacher", "report"):
        assert (dirs[stage] / "manifest.json").exists(), stage
    student = next(v for k, v in dirs.items() if k.startswith("student."))

    from datasets import load_from_disk
    from transformers import AutoModelForCausalLM, AutoTokenizer

    sft = load_from_disk(str(dirs["datasets"] / "sft"))
    assert "messages" in sft.column_names and len(sft) > 0  # the teacher got some prompts right
    assert "</think>" in sft[0]["messages"][-1]["content"]
    model = AutoModelForCausalLM.from_pretrained(student / "model")
    tok = AutoTokenizer.from_pretrained(student / "model")
    assert model.config.eos_token_id == tok.eos_token_id != tok.pad_token_id
    results = json.loads(next(root.glob("eval.*/results.json")).read_text())
    assert {"acc", "tokens", "truncated"} <= set(results["tasks"]["heldout"])
    report = (dirs["report"] / "report.md").read_text()
    assert "heldout" in report

    again = _factory("run", str(recipe), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "run     " not in again.stderr  # every stage reused
    status = _factory("status", str(recipe), cwd=tmp_path)
    assert status.returncode == 0 and "stale" not in status.stdout + status.stderr

    # Secrets from the environment never reach a file the run produced, nor its logs.
    dry = _factory("push", str(recipe), "--dry-run", cwd=tmp_path)
    logs += again.stderr + status.stdout + dry.stdout + dry.stderr
    for secret in FAKE_SECRETS.values():
        assert secret not in logs
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
