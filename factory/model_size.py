"""Model sizes for the estimate: parameters (billions) of a Hub id, a local folder or a tiny model.

Kept apart from factory/estimate.py, which turns sizes into GPU-hours; this module only answers "how big".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from factory.hardware import HardwareConfig
from factory.memory import ModelShape
from factory.recipe import Recipe
from teachers.config import TinyModel

TINY_VOCAB = 512  # students.tiny builds a 512-token BPE vocabulary

# Parameters in billions (model cards); `hardware.model_params` adds or overrides entries.
KNOWN_PARAMS = {
    "deepseek-ai/deepseek-r1": 671.0,  # MoE, 37B active per token
    "deepseek-reasoner": 671.0,
    "qwen/qwq-32b": 32.8,
    "deepseek-ai/deepseek-r1-distill-qwen-32b": 32.8,
    "deepseek-ai/deepseek-r1-distill-llama-70b": 70.6,
    "qwen/qwen2.5-math-1.5b": 1.54,
    "qwen/qwen2.5-math-7b": 7.62,
    "qwen/qwen2.5-14b": 14.8,
    "qwen/qwen2.5-32b": 32.8,
    "meta-llama/llama-3.1-8b": 8.03,
    "meta-llama/llama-3.3-70b-instruct": 70.6,
    "huggingfacetb/smollm2-135m-instruct": 0.135,
}


# The config.json of each model (hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads,
# intermediate_size, vocab_size). Distilled students keep their base's shape.
_QWEN25_32B = ModelShape(5120, 64, 40, 8, 27648, 152064)
_LLAMA_70B = ModelShape(8192, 80, 64, 8, 28672, 128256)
KNOWN_SHAPES = {
    "qwen/qwen2.5-math-1.5b": ModelShape(1536, 28, 12, 2, 8960, 151936),
    "qwen/qwen2.5-math-7b": ModelShape(3584, 28, 28, 4, 18944, 152064),
    "qwen/qwen2.5-14b": ModelShape(5120, 48, 40, 8, 13824, 152064),
    "qwen/qwen2.5-32b": _QWEN25_32B,
    "qwen/qwq-32b": _QWEN25_32B,
    "deepseek-ai/deepseek-r1-distill-qwen-32b": _QWEN25_32B,
    "meta-llama/llama-3.1-8b": ModelShape(4096, 32, 32, 8, 14336, 128256),
    "meta-llama/llama-3.3-70b-instruct": _LLAMA_70B,
    "deepseek-ai/deepseek-r1-distill-llama-70b": _LLAMA_70B,
    "huggingfacetb/smollm2-135m-instruct": ModelShape(576, 30, 9, 3, 1536, 49152),
}


def tiny_shape(spec: TinyModel, vocab: int = TINY_VOCAB) -> ModelShape:
    return ModelShape(spec.hidden_size, spec.num_layers, spec.num_heads, spec.num_kv_heads or spec.num_heads,
                      spec.intermediate_size, vocab)


def model_shape(model_id: str, recipe: Recipe | None = None) -> ModelShape | None:
    """The shape of a Hub id (known table) or local folder (config.json); None when unknown."""
    key = model_id.lower().rstrip("/")
    if key in KNOWN_SHAPES:
        return KNOWN_SHAPES[key]
    local = recipe.resolve_path(model_id) if recipe else Path(model_id)
    if (local / "config.json").is_file():
        c = json.loads((local / "config.json").read_text())
        heads = c.get("num_attention_heads", 1)
        return ModelShape(c["hidden_size"], c["num_hidden_layers"], heads, c.get("num_key_value_heads") or heads,
                          c.get("intermediate_size", 4 * c["hidden_size"]), c.get("vocab_size", 32000))
    return None


class EstimateError(ValueError):
    """The estimate cannot be made as configured; the message says which field to set."""


def tiny_params(spec: TinyModel, vocab: int = TINY_VOCAB) -> float:
    """Parameters of a students.tiny model (tied embeddings), in billions."""
    h, kv = spec.hidden_size, spec.num_kv_heads or spec.num_heads
    attn = 2 * h * h + 2 * h * (h // spec.num_heads) * kv
    return (spec.num_layers * (attn + 3 * h * spec.intermediate_size) + vocab * h) / 1e9


def fmt_params(params_b: float) -> str:
    return f"{params_b:.3g}B" if params_b >= 1 else f"{params_b * 1e3:.3g}M"


def _config_params(config: dict) -> float:
    h, layers = config["hidden_size"], config["num_hidden_layers"]
    inter = config.get("intermediate_size", 4 * h)
    emb = config.get("vocab_size", 32000) * h * (1 if config.get("tie_word_embeddings", True) else 2)
    return (layers * (4 * h * h + 3 * h * inter) + emb) / 1e9


def model_params(model_id: str, hw: HardwareConfig, recipe: Recipe | None = None) -> float:
    """Parameters (billions) of a Hub id or local folder: hardware.model_params, the known table, a local
    config.json, or a size in the name ("Qwen2.5-7B" -> 7). Raises EstimateError when none applies."""
    overrides = {k.lower(): v for k, v in hw.model_params.items()}
    key = model_id.lower().rstrip("/")
    if key in overrides:
        return overrides[key]
    if key in KNOWN_PARAMS:
        return KNOWN_PARAMS[key]
    local = recipe.resolve_path(model_id) if recipe else Path(model_id)
    if (local / "config.json").is_file():
        return _config_params(json.loads((local / "config.json").read_text()))
    m = re.search(r"(?<![\d.])(\d+(?:\.\d+)?)([bm])(?![a-z])", key.split("/")[-1])
    if m:
        return float(m.group(1)) * (1.0 if m.group(2) == "b" else 1e-3)
    raise EstimateError(f"cannot tell the size of model '{model_id}': add it to hardware.model_params "
                        f"(billions, e.g. {{{model_id}: 7.0}}) or to factory.model_size.KNOWN_PARAMS")
