"""The generate stage on the vLLM CPU engine (worker subprocess, VLLM_CPU_KVCACHE_SPACE=1, 1 thread)."""

from __future__ import annotations

import json

import pytest

from core.atomic import read_jsonl
from teachers.generate import run
from tests.teachers.helpers import generate_ctx, write_prompts

pytest.importorskip("vllm")


@pytest.mark.vllm
@pytest.mark.slow
def test_stage_runs_on_vllm_worker(tiny_model_dir, tmp_path):
    prompts = write_prompts(tmp_path / "prompts", 6)
    teacher = {"model": str(tiny_model_dir), "backend": "auto", "omp_threads": 1, "cpu_kv_cache_gb": 1,
               "max_model_len": 256}
    gen = {"n": 3, "max_tokens": 16, "shards": 2, "engine_batch": 2, "temperature": 1.0, "top_p": 1.0}
    ctx = generate_ctx(tmp_path / "out", prompts, teacher, gen)
    summary = run(ctx)

    assert summary["backend"] == "vllm" and summary["samples"] == 18  # auto picked vLLM: it is installed
    rows = [r for p in sorted((ctx.out / "samples").glob("shard-?????.jsonl")) for r in read_jsonl(p)]
    assert sorted((r["prompt_id"], r["sample_idx"]) for r in rows) == [
        (f"p{i:04d}", s) for i in range(6) for s in range(3)]
    assert all(1 <= r["completion_tokens"] <= 16 and r["finish_reason"] in ("stop", "length") for r in rows)
    assert all(r["truncated"] == ("</think>" not in r["completion"]) for r in rows)
    assert len({r["completion"] for r in rows}) > 1  # sampling, not one greedy string
    manifest = json.loads((ctx.out / "samples" / "shard-00000.manifest.json").read_text())
    assert manifest["backend"] == "vllm" and manifest["tokens_per_s"] > 0
    assert (ctx.out / "logs" / "vllm-worker-0.log").exists()  # engine output kept out of the stage log
