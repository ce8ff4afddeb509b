"""Shared helpers for the teacher tests: a prompts folder and a generate-stage context."""

from __future__ import annotations

from pathlib import Path

from core.atomic import write_jsonl
from factory.stages import StageContext


def write_prompts(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "train.jsonl", [
        {"prompt_id": f"p{i:04d}", "source": "test", "prompt": f"What is {i} + {2 * i}?", "gold": str(3 * i),
         "task": "math", "split": "train", "metadata": {}} for i in range(count)])
    return folder


def generate_ctx(out: Path, prompts: Path, teacher: dict, generation: dict) -> StageContext:
    out.mkdir(parents=True, exist_ok=True)
    config = {"teacher": teacher, "generation": generation}
    return StageContext("generate", "generate", config, {"prompts": prompts}, out, None)
