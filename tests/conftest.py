"""Shared fixtures: tiny models and tokenizers built offline, recipe writers. No downloads."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("FACTORY_QUIET", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs one worker per core: one torch thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random-init Qwen2 (hidden 128, 4 heads: head_dim 32 for vLLM CPU) with a BPE tokenizer + ChatML template."""
    from students.tiny import build_tiny

    return build_tiny(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def minimal_recipe(**overrides) -> dict:
    """The smallest valid recipe as a dict; tests mutate it to make malformed variants."""
    recipe = {
        "name": "t",
        "teacher": {"model": "some-org/teacher"},
        "prompts": {
            "sources": [{"kind": "reasoning_gym", "name": "basic_arithmetic", "size": 8, "seed": 1}],
            "eval_sets": [{"kind": "reasoning_gym", "name": "heldout", "dataset": "basic_arithmetic",
                           "size": 4, "seed": 2}],
        },
        "generation": {"n": 2, "max_tokens": 32},
        "students": [{"name": "long", "kind": "sft", "init": {"hub": "some-org/base"}}],
        "eval": {"tasks": ["heldout"], "gates": [{"rules": ["heldout.acc >= 0.1"]}]},
    }
    recipe.update(overrides)
    return recipe


@pytest.fixture
def write_recipe(tmp_path):
    def write(data, name="recipe.yaml") -> Path:
        p = tmp_path / name
        p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
        return p

    return write


def pytest_collection_modifyitems(config, items):
    """Under `-n` (make test), hand out the slow tests first: a long test that starts last keeps one worker
    busy alone while the other idles (longest-first list scheduling). Order within each half is unchanged."""
    if getattr(config.option, "numprocesses", None):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)
