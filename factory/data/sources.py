"""Prompt sources: reasoning-gym tasks, local JSONL / Parquet files and Hub datasets -> prompt rows.

Each loader yields our prompt row (DESIGN.md, "Data contracts"): prompt_id, source, prompt, gold, task,
split, metadata. File and Hub sources go through `datasets.load_dataset` with the recipe's column
mapping `columns: {prompt: problem, gold: answer}`; mapped names other than prompt/gold land in
`metadata`. `gold` is always a string: numbers (AIME answers) become their text, structured values
(test lists) their JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from factory.data.config import PromptSource

DEFAULT_COLUMNS = {"prompt": "prompt", "gold": "gold"}


class SourceError(ValueError):
    """A prompt source cannot be read as configured; the message names the source and the field."""


def prompt_id(source: str, text: str) -> str:
    """Stable id of a prompt: sha256 of source name + text (16 hex chars)."""
    return hashlib.sha256(f"{source}\n{text}".encode("utf-8")).hexdigest()[:16]


def jsonable(value: Any) -> Any:
    """Round-trip through JSON (tuples -> lists, numpy scalars -> numbers) so metadata stores cleanly."""
    return json.loads(json.dumps(value, default=_default))


def _default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    return str(o)


def gold_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(jsonable(value), ensure_ascii=False)


def make_row(source: str, text: str, gold: Any, task: str, split: str, metadata: dict) -> dict:
    return {"prompt_id": prompt_id(source, text), "source": source, "prompt": text, "gold": gold_text(gold),
            "task": task, "split": split, "metadata": jsonable(metadata)}


def load_source(src: PromptSource, split: str, resolve_path) -> Iterator[dict]:
    """Prompt rows of one source; `resolve_path` turns recipe-relative paths into absolute ones."""
    if src.kind == "reasoning_gym":
        return _reasoning_gym(src, split)
    return _tabular(src, split, resolve_path)


def _reasoning_gym(src: PromptSource, split: str) -> Iterator[dict]:
    import reasoning_gym

    name = src.dataset or src.name
    try:
        data = reasoning_gym.create_dataset(name, size=src.size, seed=src.seed, **src.config)
    except Exception as e:  # unknown name, bad config keys: name the source
        raise SourceError(f"prompts source '{src.name}': reasoning_gym.create_dataset('{name}') failed: {e}") from e
    task = src.task or f"procedural:{name}"
    for item in data:
        yield make_row(src.name, item["question"], item["answer"], task, split, item.get("metadata") or {})


def _load_table(src: PromptSource, resolve_path):
    import datasets

    try:
        if src.kind in ("jsonl", "parquet"):
            path = resolve_path(src.path)
            if not Path(path).exists():
                raise SourceError(f"prompts source '{src.name}': path {path} does not exist")
            builder = "json" if src.kind == "jsonl" else "parquet"
            return datasets.load_dataset(builder, data_files=str(path), split="train", **src.config), str(path)
        table = datasets.load_dataset(src.hub_id, src.subset, split=src.split, **src.config)
        return table, src.hub_id
    except SourceError:
        raise
    except Exception as e:
        where = src.path or src.hub_id
        raise SourceError(f"prompts source '{src.name}': cannot load {where}: {str(e).splitlines()[0]}") from e


def _tabular(src: PromptSource, split: str, resolve_path) -> Iterator[dict]:
    table, where = _load_table(src, resolve_path)
    columns = DEFAULT_COLUMNS | src.columns
    for ours, theirs in columns.items():
        if theirs not in table.column_names:
            raise SourceError(f"prompts source '{src.name}': column '{theirs}' (for {ours}) not found in {where}; "
                              f"columns are {table.column_names}")
    if src.size and src.size < len(table):
        table = table.shuffle(seed=src.seed).select(range(src.size))
    extras = {ours: theirs for ours, theirs in columns.items() if ours not in DEFAULT_COLUMNS}
    task = src.task or "math"
    for record in table:
        text = record[columns["prompt"]]
        text = text if isinstance(text, str) else ""  # empty prompts are dropped (and counted) by the stage
        meta = {ours: record[theirs] for ours, theirs in extras.items()}
        yield make_row(src.name, text, record[columns["gold"]], task, split, meta)
