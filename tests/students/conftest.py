"""Fixtures for the student jobs: a tiny init model folder, tiny datasets in the `datasets` stage
layout (sft/, shortest/, pairs/, rl_pool/), and a StageContext builder. All offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


def sft_rows(n: int = 16) -> list[dict]:
    """Varied-length `<think>` traces for `a + b` (the micro recipe's kind of data)."""
    rows = []
    for i in range(n):
        a, b = i % 7 + 1, i % 5 + 2
        checks = " Wait, let me verify." * (i % 3)
        rows.append({"messages": [
            {"role": "user", "content": f"What is {a} + {b}?"},
            {"role": "assistant", "content": f"<think>{a} + {b} = {a + b}.{checks}</think>{a + b}"}]})
    return rows


def pair_rows(n: int = 8) -> list[dict]:
    rows = []
    for i in range(n):
        a, b = i % 7 + 1, i % 5 + 2
        rows.append({
            "prompt": [{"role": "user", "content": f"What is {a} + {b}?"}],
            "chosen": [{"role": "assistant", "content": f"<think>{a} + {b} = {a + b}.</think>{a + b}"}],
            "rejected": [{"role": "assistant", "content": f"<think>Hmm, carry the 1. Let me check again. "
                                                             f"So {a} + {b} = {a + b + 1}.</think>{a + b + 1}"}],
            "pair_kind": "kimi" if i % 2 == 0 else "flash",
        })
    return rows


def rl_rows(n: int = 4) -> list[dict]:
    rows = []
    for i in range(n):
        a, b = i + 1, i + 2
        rows.append({"prompt": [{"role": "user", "content": f"What is {a} + {b}?"}], "gold": str(a + b),
                     "task": "procedural:basic_arithmetic", "pass_rate": 0.5, "prompt_id": f"p{i}",
                     "metadata": json.dumps({})})
    return rows


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    from datasets import Dataset

    root = tmp_path_factory.mktemp("datasets")
    Dataset.from_list(sft_rows()).save_to_disk(str(root / "sft"))
    Dataset.from_list(sft_rows(8)).save_to_disk(str(root / "shortest"))
    Dataset.from_list(pair_rows()).save_to_disk(str(root / "pairs"))
    Dataset.from_list(rl_rows()).save_to_disk(str(root / "rl_pool"))
    return root


@pytest.fixture(scope="session")
def init_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A stage-shaped artifact folder: `<dir>/model/` holding the tiny model."""
    root = tmp_path_factory.mktemp("init")
    shutil.copytree(tiny_model_dir, root / "model")
    return root


@pytest.fixture
def make_ctx(tmp_path):
    from factory.stages import StageContext

    def make(job: dict, inputs: dict, out: Path | None = None, kind: str | None = None, **config):
        out = out or tmp_path / "out"
        out.mkdir(parents=True, exist_ok=True)
        return StageContext(name=f"student.{job['name']}", kind=kind or job["kind"],
                            config={"job": job, "teacher_model": None} | config,
                            inputs={k: Path(v) for k, v in inputs.items()}, out=out, recipe=None)

    return make
