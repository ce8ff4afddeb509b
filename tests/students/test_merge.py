"""Merge job: a linear merge equals the weighted average of the weights; slerp end points; TIES base."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from students import merge
from students.tiny import build_tiny


def _weights(folder):
    tensors = {}
    for f in sorted(folder.glob("*.safetensors")):
        tensors |= load_file(str(f))
    return tensors


@pytest.fixture(scope="module")
def long_short(tmp_path_factory):
    root = tmp_path_factory.mktemp("merge")
    build_tiny(root / "long" / "model", seed=1)
    build_tiny(root / "short" / "model", seed=2)
    return root / "long", root / "short"


def _job(**kw):
    return {"name": "mix", "kind": "merge", "models": ["long", "short"], "weights": [0.3]} | kw


def test_linear_merge_is_the_weighted_average(make_ctx, long_short):
    long_dir, short_dir = long_short
    ctx = make_ctx(_job(), {"long": long_dir, "short": short_dir}, weight=0.3)
    summary = merge.run(ctx)
    assert summary["weight_long"] == 0.3
    merged, a, b = _weights(ctx.out / "model"), _weights(long_dir / "model"), _weights(short_dir / "model")
    assert set(merged) == set(a)
    for name, tensor in a.items():
        torch.testing.assert_close(merged[name], 0.3 * tensor + 0.7 * b[name], rtol=1e-5, atol=1e-6)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(ctx.out / "model")
    model = AutoModelForCausalLM.from_pretrained(ctx.out / "model")
    assert "{% generation %}" in tok.chat_template
    assert model.generation_config.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")


def test_ties_needs_a_known_base(make_ctx, long_short):
    long_dir, short_dir = long_short
    ctx = make_ctx(_job(method="ties"), {"long": long_dir, "short": short_dir}, weight=0.5)
    with pytest.raises(ValueError, match="needs a base model"):
        merge.run(ctx)


def test_ties_takes_the_long_models_init_as_base(make_ctx, long_short, tmp_path):
    long_dir, short_dir = long_short
    base = build_tiny(long_dir.parent / "base-abc" / "model", seed=3)
    manifest = {"inputs": {"init": {"stage": "base.long", "dir": "base-abc"}}}
    ctx = make_ctx(_job(method="ties", density=1.0), {"long": long_dir, "short": short_dir}, weight=0.5,
                   out=tmp_path / "ties")
    ctx.manifests["long"] = manifest
    summary = merge.run(ctx)
    assert summary["base_model"] == str(base)
    merged, b0, a = _weights(ctx.out / "model"), _weights(base), _weights(long_dir / "model")
    name = next(n for n in merged if n.endswith("mlp.up_proj.weight"))
    assert not torch.allclose(merged[name], b0[name]) and not torch.allclose(merged[name], a[name])
