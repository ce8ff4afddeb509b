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


def shrink_micro(tmp_path) -> dict:
    data = yaml.safe_load((REPO / "recipes" / "micro.yaml").read_text())
    data["name"] = "micro-e2e"
    data["run_dir"] = str(tmp_path / "runs")
    boot = data["teacher"]["bootstrap"]
    boot.update(train_examples=64, steps=6, batch_size=8, max_length=256)
    boot["model"] = {"architecture": "qwen2", "hidden_size": 64, "num_layers": 1, "num_heads": 2,
                     "intermediate_size": 128}
    data["teacher"]["backend"] = "transformers"
    data["prompts"]["sources"][0]["size"] = 12
    data["prompts"]["eval_sets"][0]["size"] = 6
    data["generation"].update(n=2, max_tokens=48, shards=2)
    data["students"] = [s for s in data["students"] if s["kind"] == "sft"][:1]
    data["students"][0].update(epochs=1, max_steps=3, batch_size=4, max_length=256)
    data["students"][0]["init"] = {"tiny": {"hidden_size": 64, "num_layers": 1, "num_heads": 2,
                                            "intermediate_size": 128}}
    data["eval"].update(k=2, max_gen_toks=48, batch_size=16)
    name = data["students"][0]["name"]
    data["eval"]["gates"] = [{"students": [name], "rules": ["heldout.tokens >= 0"]}]
    return data


def _factory(*args, cwd):
    return subprocess.run([sys.executable, "-m", "factory.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.mark.slow
def test_micro_slice_end_to_end_then_cached(tmp_path):
    recipe = tmp_path / "micro-e2e.yaml"
    recipe.write_text(yaml.safe_dump(shrink_micro(tmp_path), sort_keys=False))
    proc = _factory("run", str(recipe), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    root = tmp_path / "runs" / "micro-e2e"
    dirs = {p.name.rsplit("-", 1)[0]: p for p in root.iterdir() if p.is_dir() and not p.name.endswith(".partial")}
    for stage in ("prompts", "teacher", "generate", "verify", "datasets", "eval.teacher", "report"):
        assert (dirs[stage] / "manifest.json").exists(), stage
    student = next(v for k, v in dirs.items() if k.startswith("student."))

    from datasets import load_from_disk
    from transformers import AutoModelForCausalLM, AutoTokenizer

    sft = load_from_disk(str(dirs["datasets"] / "sft"))
    assert "messages" in sft.column_names
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
