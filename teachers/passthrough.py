"""The teacher's `sampling:` and `engine:` blocks, checked against vLLM's own fields.

`sampling:` takes any field of `vllm.SamplingParams` (a msgspec Struct: `__struct_fields__`) and
`engine:` any argument of `vllm.engine.arg_utils.EngineArgs` (a dataclass), so a user who has read
vLLM's docs can use every knob without a code change. An unknown key is a recipe error naming the
closest valid name (difflib). Fields the factory sets itself are refused in the block with the
field to use instead, so each value has one home. Without vLLM installed (a hosted HTTP teacher)
the keys are not checked here; the server rejects what it does not know (HTTP 400, a permanent error).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
from functools import lru_cache

SAMPLING_RESERVED = {"n": "generation.n", "temperature": "generation.temperature", "top_p": "generation.top_p",
                     "max_tokens": "generation.max_tokens", "seed": "generation.seed (one seed per request)"}
ENGINE_RESERVED = {"model": "teacher.model", "dtype": "teacher.dtype",
                   "tensor_parallel_size": "teacher.tensor_parallel_size",
                   "gpu_memory_utilization": "teacher.gpu_memory_utilization",
                   "max_model_len": "teacher.max_model_len"}


@lru_cache(maxsize=1)
def sampling_fields() -> tuple[str, ...] | None:
    if importlib.util.find_spec("vllm") is None:
        return None
    from vllm.sampling_params import SamplingParams

    return tuple(f for f in SamplingParams.__struct_fields__ if not f.startswith("_"))


@lru_cache(maxsize=1)
def engine_fields() -> tuple[str, ...] | None:
    if importlib.util.find_spec("vllm") is None:
        return None
    from vllm.engine.arg_utils import EngineArgs

    return tuple(f.name for f in dataclasses.fields(EngineArgs) if not f.name.startswith("_"))


def check_block(block: dict, where: str, library: str, fields: tuple[str, ...] | None, reserved: dict) -> None:
    """Raise ValueError (one line) for the first reserved or unknown key of `block`."""
    for key in block:
        if key in reserved:
            raise ValueError(f"{where}.{key}: set {reserved[key]} instead")
        if fields is not None and key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"{where}.{key}: not a field of {library}{hint}")


def check_sampling(block: dict) -> None:
    if block:
        check_block(block, "sampling", "vllm.SamplingParams", sampling_fields(), SAMPLING_RESERVED)


def check_engine(block: dict) -> None:
    if block:
        check_block(block, "engine", "vllm EngineArgs", engine_fields(), ENGINE_RESERVED)


def sampling_params(gen, teacher, convention) -> dict:
    """The one form sampling travels in: SamplingParams fields (factory fields, convention, then the block)."""
    sampling = {"n": gen.n, "temperature": gen.temperature, "top_p": gen.top_p, "max_tokens": gen.max_tokens}
    if convention.stop:
        sampling["stop"] = list(convention.stop)
    if convention.sampling.get("top_k"):
        sampling["top_k"] = convention.sampling["top_k"]
    return sampling | dict(teacher.sampling)
