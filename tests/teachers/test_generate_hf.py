"""The generate stage on the transformers backend: rows, shards, manifests, corruption, scale-out."""

from __future__ import annotations

import json

import pytest

from core.atomic import read_jsonl
from core.hashing import file_sha256
from teachers.generate import generate_shards, run
from tests.teachers.helpers import generate_ctx, write_prompts

GEN = {"n": 2, "max_tokens": 12, "shards": 3, "batch_size": 4, "temperature": 1.0, "top_p": 1.0, "seed": 3}
ROW_FIELDS = {"prompt_id", "prompt", "sample_idx", "completion", "reasoning", "answer", "finish_reason",
              "completion_tokens", "truncated", "teacher", "gen_params_hash"}


@pytest.fixture(scope="module")
def generated(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    prompts = write_prompts(root / "prompts", 10)
    ctx = generate_ctx(root / "out", prompts, {"model": str(tiny_model_dir), "backend": "transformers"}, GEN)
    return ctx, run(ctx)


def _shards(ctx):
    return sorted((ctx.out / "samples").glob("shard-?????.jsonl"))


def test_every_key_once_with_contract_fields(generated):
    ctx, summary = generated
    rows = [r for p in _shards(ctx) for r in read_jsonl(p)]
    keys = [(r["prompt_id"], r["sample_idx"]) for r in rows]
    assert len(keys) == len(set(keys)) == 20 and {k[1] for k in keys} == {0, 1}
    assert all(ROW_FIELDS <= set(r) for r in rows)
    assert summary["samples"] == 20 and summary["backend"] == "transformers" and summary["prompts"] == 10
    for r in rows:  # random-init model: 12 tokens without </think> -> truncated, no answer
        assert r["completion_tokens"] <= 12
        if r["truncated"]:
            assert r["answer"] == ""
    assert summary["tokens"] == sum(r["completion_tokens"] for r in rows)


def test_shard_manifest_matches_file(generated):
    ctx, _ = generated
    assert len(_shards(ctx)) == 3 and not list((ctx.out / "samples").glob("*.partial.jsonl"))
    for shard in _shards(ctx):
        m = json.loads(shard.with_name(shard.stem + ".manifest.json").read_text())
        assert m["sha256"] == file_sha256(shard) and m["count"] == len(read_jsonl(shard))
        assert m["tokens_per_s"] > 0 and m["wall_s"] > 0
        rows = read_jsonl(shard)
        assert rows == sorted(rows, key=lambda r: (r["prompt_id"], r["sample_idx"]))


def test_corrupt_shard_is_regenerated_identically(generated):
    ctx, _ = generated
    shard = _shards(ctx)[1]
    good = shard.read_bytes()
    others = {p: p.stat().st_mtime_ns for p in _shards(ctx) if p != shard}
    shard.write_bytes(good.replace(b'"sample_idx": 1', b'"sample_idx": 7', 1))
    summary = run(ctx)
    assert shard.read_bytes() == good  # fixed batches + per-batch seeds: same samples again
    assert summary["new_samples"] == len(read_jsonl(shard))
    assert {p: p.stat().st_mtime_ns for p in others} == others  # intact shards untouched
    assert "checksum mismatch" in (ctx.out / "stage.log").read_text()


def test_workers_claim_free_shards_then_stage_only_checks(tiny_model_dir, tmp_path, generated):
    """Workers claim shards, not a static split: a lone worker 1 of 2 takes every free shard, starting
    at its own; the next worker and the stage find nothing left to do."""
    ref_ctx, _ = generated
    prompts = ref_ctx.input("prompts")
    ctx = generate_ctx(tmp_path / "out", prompts, {"model": str(tiny_model_dir), "backend": "transformers"}, GEN)
    first = generate_shards(ctx, worker_index=1, num_workers=2)
    assert first["new_samples"] == 20 and len(_shards(ctx)) == 3
    assert "shard-00001: " in (ctx.out / "stage.log").read_text().splitlines()[1]
    assert generate_shards(ctx, worker_index=0, num_workers=2)["new_samples"] == 0
    assert not list((ctx.out / "samples").glob("*.lease"))
    final = run(ctx)
    assert final["new_samples"] == 0 and final["samples"] == 20
    for a, b in zip(_shards(ctx), _shards(ref_ctx)):
        assert a.read_bytes() == b.read_bytes()


def test_bad_prompts_file_names_the_field(tiny_model_dir, tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "train.jsonl").write_text('{"prompt": "x"}\n')
    ctx = generate_ctx(tmp_path / "out", tmp_path / "prompts", {"model": str(tiny_model_dir)}, GEN)
    with pytest.raises(ValueError, match="line 1 has no 'prompt_id'"):
        run(ctx)
