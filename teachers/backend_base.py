"""The one interface every generation backend implements: submit prompt requests, poll finished samples.

A backend sees `GenRequest`s (a prompt row, its token ids and chat messages, a seed, the sample
indices still missing, and the shard it belongs to) and answers with one `GenOutput` per wanted
sample: the generated text (as the engine decoded it, before the factory puts back a swallowed
`<think>`), the number of generated tokens (teacher tokenizer), a finish reason (`stop`, `length` or
`error`) and the model id the engine/server reports. Turning outputs into sample rows is
`teachers.generate`'s job, so all backends store identical rows.

Continuous submission: the driver keeps up to `backend.capacity` requests in flight with `submit`,
and `poll` returns whatever finished, in any order, so one long sample never holds the others back
(no batch barrier). Faults: a backend raises `PermanentError` (bad key, no balance, unknown model,
rejected context) and the stage stops; a sample that kept failing transiently past the recipe's time
budget comes back with finish_reason "error" and is never stored as done.

Sampling travels in one form, a dict of vLLM `SamplingParams` fields (`teachers.sampling`); each
backend maps it once (vLLM: `SamplingParams(**sampling)`, HTTP: chat-completions arguments,
transformers: `generate` arguments).

Backends: `backend_vllm` (engine in a worker process), `backend_hf` (transformers `generate`),
`backend_openai` (OpenAI-compatible HTTP through the official client). "auto" means vLLM when it is
importable, else transformers.
"""

from __future__ import annotations

import importlib.util
import queue
from dataclasses import dataclass
from typing import Protocol

from core.hashing import stable_hash


class PermanentError(RuntimeError):
    """An error retrying cannot fix (HTTP 401/402/403/404, unknown model, context too long): stop the stage."""


@dataclass
class GenRequest:
    prompt_row: dict
    prompt_ids: list[int]
    messages: list[dict]
    seed: int
    sample_indices: list[int]
    shard: int = 0


@dataclass
class GenOutput:
    sample_idx: int
    text: str
    tokens: int
    finish_reason: str  # stop | length | error
    error: str | None = None
    reasoning: str | None = None  # when the server returned reasoning separately (reasoning_content)
    served_model: str | None = None  # the model id the engine/server reports for this sample


class Backend(Protocol):
    name: str
    capacity: int  # requests the driver keeps in flight

    def submit(self, request: GenRequest, sampling: dict) -> None: ...

    def poll(self) -> list[tuple[GenRequest, list[GenOutput]]]: ...

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


def drain(results: queue.Queue) -> list:
    """Every item a backend's result queue holds, blocking until there is at least one (`poll`'s first step)."""
    items = [results.get()]
    while True:
        try:
            items.append(results.get_nowait())
        except queue.Empty:
            return items
