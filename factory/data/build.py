"""The `datasets` stage: verified samples -> the SFT, shortest, pairs and RL-pool datasets, cards and stats.

One streaming pass over `<verified>/samples/*.jsonl` (sorted names; samples grouped by prompt, see
samples.py) feeds every builder a prompt at a time; their rows are spooled to JSONL inside ctx.out and
then turned into Arrow with `datasets.Dataset.from_json` (block-wise), so memory stays flat however many samples
there are. Each dataset is saved with `save_to_disk` into `ctx.out/<name>/` with a card (README.md +
lengths.png); `stats.json` holds counts, every filter's drops and length statistics, including the median
over prompts of longest-correct / shortest-correct token ratio (the micro recipe needs >= 2x).

Only prompts of the prompts stage's `train.jsonl` are used: samples of any other prompt (an eval prompt,
a stale shard) are dropped and counted as `not_a_train_prompt`, so eval prompts cannot reach training data.
An empty dataset is still written (0 rows, the right columns) and reported.
"""

from __future__ import annotations

import json
import shutil
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np

from core.atomic import publish_dir, write_json
from factory.data import cards, pairs, rejection, rl_pool, shortest
from factory.data.config import DatasetsConfig
from factory.data.samples import PromptGroup, iter_groups, tokens

TOKENS_LABEL = "completion tokens (teacher tokenizer)"


@dataclass(frozen=True)
class Builder:
    """One dataset of the stage: its rule module (FEATURES, RULE, CITATION, DROP_KEYS), how it makes rows from
    one prompt's samples, which row columns its card plots, and the recipe section that configures it."""

    name: str
    module: ModuleType
    rows: Callable[[PromptGroup, DatasetsConfig, Counter], list[dict]]
    series: dict[str, tuple[str, str]]  # card label -> (row column, array typecode)
    settings: Callable[[DatasetsConfig], object] = lambda cfg: None
    xlabel: str = TOKENS_LABEL
    finish: Callable | None = None  # (Dataset, DatasetsConfig) -> Dataset, before saving
    tally: tuple[str, Callable[[DatasetsConfig], list]] | None = None  # (row column, its expected values)


BUILDERS: dict[str, Builder] = {}


def register(builder: Builder) -> Builder:
    """Add a dataset builder: the stage writes, cards and reports every registered dataset."""
    BUILDERS[builder.name] = builder
    return builder


def _one(row) -> list[dict]:
    return [] if row is None else [row]


register(Builder("sft", rejection, lambda g, cfg, drops: rejection.rows_for_prompt(g, cfg.sft, drops),
                 {"completion tokens": ("completion_tokens", "l")}, lambda cfg: cfg.sft))
register(Builder("shortest", shortest, lambda g, cfg, drops: shortest.rows_for_prompt(g, drops),
                 {"completion tokens": ("completion_tokens", "l")}))
register(Builder("pairs", pairs, lambda g, cfg, drops: pairs.rows_for_prompt(g, cfg.pairs, drops),
                 {"chosen tokens": ("chosen_tokens", "l"), "rejected tokens": ("rejected_tokens", "l")},
                 lambda cfg: cfg.pairs, tally=("pair_kind", lambda cfg: cfg.pairs.kinds)))
register(Builder("rl_pool", rl_pool, lambda g, cfg, drops: _one(rl_pool.row_for_prompt(g, cfg.rl_pool, drops)),
                 {"pass rate": ("pass_rate", "d")}, lambda cfg: cfg.rl_pool, xlabel="pass rate",
                 # Arrow-side sort: the pool never sits in Python memory
                 finish=lambda ds, cfg: rl_pool.sort_dataset(ds, cfg.rl_pool.order)))


class _Spool:
    """Rows of one dataset appended to a JSONL file in the work folder, counted as they go."""

    def __init__(self, path: Path):
        self.path = path
        self.rows = 0
        self._f = open(path, "w", encoding="utf-8")

    def write(self, rows) -> None:
        for row in rows:
            self._f.write(json.dumps(row, ensure_ascii=False) + "\n")
            self.rows += 1

    def close(self) -> None:
        self._f.close()


class _SampleStats:
    """Counts over every sample and the per-prompt longest/shortest correct length ratio."""

    def __init__(self):
        self.counts = Counter()
        self.ratios = array("d")
        self.teachers: set[str] = set()

    def add(self, group: PromptGroup) -> None:
        correct = group.correct
        self.counts.update(prompts=1, samples=len(group.samples), correct=len(correct),
                           incorrect=len(group.incorrect), judged=group.judged)
        self.teachers.update(str(s["teacher"]) for s in group.samples if s.get("teacher"))
        if len(correct) >= 2:
            lengths = [tokens(s) for s in correct]
            self.ratios.append(max(lengths) / max(1, min(lengths)))

    def summary(self) -> dict:
        c = self.counts
        return {**dict(c), "teacher_accuracy": round(c["correct"] / c["judged"], 4) if c["judged"] else None,
                "prompts_with_2plus_correct": len(self.ratios),
                "median_correct_length_ratio": float(np.median(self.ratios)) if len(self.ratios) else None}


def run(ctx) -> dict:
    cfg = DatasetsConfig.model_validate(ctx.config["datasets"])
    prompts = _train_prompts(ctx.input("prompts") / "train.jsonl")
    shards = sorted((ctx.input("verified") / "samples").glob("*.jsonl"))
    if not shards:
        raise FileNotFoundError(f"no sample shards in {ctx.input('verified') / 'samples'}")

    drops = {name: Counter({k: 0 for k in b.module.DROP_KEYS}) for name, b in BUILDERS.items()}
    series = {name: {label: array(code) for label, (_, code) in b.series.items()} for name, b in BUILDERS.items()}
    tallies = {name: Counter({k: 0 for k in b.tally[1](cfg)}) for name, b in BUILDERS.items() if b.tally}
    stats, skipped = _SampleStats(), Counter(not_a_train_prompt=0)
    spool_dir = ctx.out / ".spool"
    spool_dir.mkdir(exist_ok=True)
    spools = {name: _Spool(spool_dir / f"{name}.jsonl") for name in BUILDERS}
    for group in iter_groups(shards, prompts):
        if group.prompt_id not in prompts:
            skipped["not_a_train_prompt"] += len(group.samples)
            continue
        stats.add(group)
        _feed(group, cfg, spools, drops, series, tallies)
    for spool in spools.values():
        spool.close()

    out = {name: _save(ctx, name, spools[name], dict(drops[name]), series[name], stats.teachers, cfg)
           for name in BUILDERS}
    shutil.rmtree(spool_dir, ignore_errors=True)
    summary = {"samples": stats.summary(), "skipped": dict(skipped), "datasets": out,
               **{f"{BUILDERS[name].tally[0]}s": dict(t) for name, t in tallies.items()}}
    write_json(ctx.out / "stats.json", summary)
    ctx.log(f"rows: {({n: d['rows'] for n, d in out.items()})}; "
            f"median longest/shortest correct = {summary['samples']['median_correct_length_ratio']}")
    return summary


def _feed(group: PromptGroup, cfg: DatasetsConfig, spools, drops, series, tallies) -> None:
    """Give one prompt's samples to every builder; spool their rows and record what their cards plot."""
    for name, builder in BUILDERS.items():
        rows = builder.rows(group, cfg, drops[name])
        spools[name].write(rows)
        for label, (column, _) in builder.series.items():
            series[name][label].extend(r[column] for r in rows)
        if builder.tally:
            tallies[name].update(r[builder.tally[0]] for r in rows)


def _save(ctx, name: str, spool: _Spool, drops: dict, series: dict, teachers: set[str], cfg: DatasetsConfig) -> dict:
    """Arrow-ize a spooled dataset into ctx.out/<name>/ (atomic folder rename) with its card."""
    import datasets

    builder = BUILDERS[name]
    module = builder.module
    datasets.disable_progress_bars()
    cache = ctx.out / ".hf_cache"
    if spool.rows:
        # the json builder parses in blocks with pyarrow (C++), ~50x faster than from_generator's per-row encoding
        ds = datasets.Dataset.from_json(str(spool.path), features=module.FEATURES, cache_dir=str(cache))
    else:
        ds = datasets.Dataset.from_dict({c: [] for c in module.FEATURES}, features=module.FEATURES)
    if builder.finish is not None:
        ds = builder.finish(ds, cfg)
    tmp = ctx.out / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    ds.save_to_disk(str(tmp), num_shards=None if spool.rows else 1)  # 0 shards would not load back
    del ds
    shutil.rmtree(cache, ignore_errors=True)
    section = builder.settings(cfg)
    length_stats = cards.write_card(tmp, name=name, rule=module.RULE, citation=module.CITATION,
                                    teachers=sorted(teachers), rows=spool.rows, drops=drops, series=series,
                                    xlabel=builder.xlabel, columns=list(module.FEATURES),
                                    settings=section.model_dump(mode="json") if section is not None else {})
    publish_dir(tmp, ctx.out / name)
    return {"rows": spool.rows, "drops": drops, "lengths": length_stats}


def _train_prompts(path: Path) -> dict[str, dict]:
    """prompt_id -> the fields builders need, metadata kept as its JSON text (compact for 100k+ prompts)."""
    prompts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                prompts[row["prompt_id"]] = {"task": row.get("task", ""), "gold": row.get("gold", ""),
                                             "metadata": json.dumps(row.get("metadata") or {}, sort_keys=True)}
    return prompts
