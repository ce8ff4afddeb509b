"""The registry of stage kinds: kind -> the one public entry of the package that implements it.

Every entry has the signature `run(ctx: StageContext) -> dict` (the dict is the summary kept in the
manifest). Imports are lazy so `factory validate` and `plan` never import torch.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from factory.progress import PROGRESS_ENV, console
from students import kinds

STAGE_ENTRIES = {
    "prompts": "factory.data.prompts:run",
    "bootstrap": "teachers.bootstrap:run",
    "generate": "teachers.generate:run",
    "verify": "eval.verify:run",
    "datasets": "factory.data.build:run",
    "tiny": "students.tiny:run",
    **kinds.stage_entries(),  # one per student kind (students/kinds.py)
    "eval": "eval.evaluate:run",
    "report": "eval.report:run",
}

# Bump a kind's number when its code changes what it writes (not just how fast): the number is part of
# the stage hash, so cached artifacts in the old format re-run instead of being silently reused.
# Kinds not listed are at format 1 (left out of the hash, so adding an entry re-runs only that kind).
STAGE_FORMATS = {
    "datasets": 2,  # 2: assistant turns keep the teacher's completion verbatim (whitespace around the tags)
    "eval": 2,  # 2: sample logs carry each completion's verdict (`correct`), for accuracy by token budget
    "report": 2,  # 2: pretrained stand-in bases are listed as "reference", not as failed students
}


@dataclass
class StageContext:
    """What a stage sees: its own config, its inputs' artifact folders, and a folder to write into.

    `out` is a work folder kept across crashes for the same hash, so a stage may resume from what it
    finds there (shards, checkpoints). It becomes the artifact when the stage returns.
    """

    name: str
    kind: str
    config: dict[str, Any]
    inputs: dict[str, Path]
    out: Path
    recipe: Any
    manifests: dict[str, dict] = field(default_factory=dict)

    def input(self, role: str) -> Path:
        if role not in self.inputs:
            raise KeyError(f"stage {self.name} has no input '{role}' (has: {sorted(self.inputs)})")
        return self.inputs[role]

    def log(self, msg: str) -> None:
        """To the stage's log; to the console too unless a run display owns it (then the log has it)."""
        if not os.environ.get(PROGRESS_ENV):
            console.print(f"[dim]{self.name}[/dim] {msg}")
        with open(self.out / "stage.log", "a", encoding="utf-8") as f:
            f.write(msg + "\n")


def stage_function(kind: str) -> Callable[[StageContext], dict]:
    target = STAGE_ENTRIES.get(kind)
    if target is None:
        raise KeyError(f"unknown stage kind '{kind}' (known: {', '.join(sorted(STAGE_ENTRIES))})")
    module, fn = target.split(":")
    return getattr(importlib.import_module(module), fn)
