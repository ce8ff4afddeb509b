"""The `prompts` stage: load every prompt source and eval set, dedup, decontaminate, write prompt rows.

Writes `train.jsonl` (split train) and `eval/<set name>.jsonl` (split eval) into ctx.out, atomically.
Train prompts are checked, in this order, for: an empty text, a repeat of an earlier prompt (exact
after whitespace/case normalization, when `dedup` is on; a repeated id is always dropped because
prompt_id is a key), and overlap with any eval set (exact, then word n-gram; see decontaminate.py).
Every filter's drop count is returned per source, so the manifest says what was removed and why.

Run on its own: `factory run <recipe> --only prompts` (the runner calls `run(ctx)`).
"""

from __future__ import annotations

from collections import Counter

from core.atomic import write_jsonl
from factory.data.config import PromptsConfig
from factory.data.decontaminate import Decontaminator, Deduplicator
from factory.data.sources import load_source


def run(ctx) -> dict:
    cfg = PromptsConfig.model_validate(ctx.config["prompts"])
    resolve = ctx.recipe.resolve_path if ctx.recipe is not None else None
    eval_rows = {e.name: _load_eval_set(e, resolve) for e in cfg.eval_sets}
    decon = Decontaminator(cfg.decontaminate_ngram, cfg.template_ngram_share)
    for rows in eval_rows.values():
        decon.add_eval_set(r["prompt"] for r in rows)

    train, per_source = _load_train(cfg, decon, resolve)
    write_jsonl(ctx.out / "train.jsonl", train)
    for name, rows in eval_rows.items():
        write_jsonl(ctx.out / "eval" / f"{name}.jsonl", rows)

    dropped = Counter()
    for counts in per_source.values():
        dropped.update({k: v for k, v in counts.items() if k not in ("loaded", "kept")})
    summary = {"train": len(train), "eval": {n: len(r) for n, r in eval_rows.items()},
               "sources": per_source, "dropped": dict(sorted(dropped.items())), "warnings": seed_overlaps(cfg)}
    for warning in summary["warnings"]:
        ctx.log(f"warning: {warning}")
    ctx.log(f"{len(train)} train prompts, eval {summary['eval']}, dropped {summary['dropped']}")
    return summary


def _load_eval_set(eval_set, resolve) -> list[dict]:
    """An eval set's rows, unique by prompt_id (the key of every later stage)."""
    seen, rows = set(), []
    for row in load_source(eval_set, "eval", resolve):
        if row["prompt"].strip() and row["prompt_id"] not in seen:
            seen.add(row["prompt_id"])
            rows.append(row)
    return rows


def _load_train(cfg: PromptsConfig, decon: Decontaminator, resolve) -> tuple[list[dict], dict]:
    dedup, ids = Deduplicator(), set()
    kept, per_source = [], {}
    for src in cfg.sources:
        counts = Counter(loaded=0, kept=0, empty=0, duplicate=0, contaminated_exact=0, contaminated_ngram=0)
        for row in load_source(src, "train", resolve):
            counts["loaded"] += 1
            reason = _drop_reason(row, cfg.dedup, dedup, ids, decon)
            counts[reason or "kept"] += 1
            if reason is None:
                ids.add(row["prompt_id"])
                kept.append(row)
        per_source[src.name] = dict(counts)
    return kept, per_source


def _drop_reason(row: dict, dedup_on: bool, dedup: Deduplicator, ids: set, decon: Decontaminator) -> str | None:
    text = row["prompt"]
    if not text.strip():
        return "empty"
    if row["prompt_id"] in ids or (dedup_on and dedup.seen(text)):
        return "duplicate"
    hit = decon.check(text)
    return f"contaminated_{hit}" if hit else None


def seed_overlaps(cfg: PromptsConfig) -> list[str]:
    """reasoning-gym seeds item i with `seed + i`, so a train source and an eval set of the same dataset whose
    ranges [seed, seed + size) overlap share those items: decontamination then drops them all. Say so."""
    warnings = []
    for src in (s for s in cfg.sources if s.kind == "reasoning_gym"):
        for ev in (e for e in cfg.eval_sets if e.kind == "reasoning_gym"):
            same = (src.dataset or src.name) == (ev.dataset or ev.name) and src.config == ev.config
            shared = min(src.seed + src.size, ev.seed + ev.size) - max(src.seed, ev.seed)
            if same and shared > 0:
                warnings.append(f"source '{src.name}' (seed {src.seed}, size {src.size}) and eval set '{ev.name}' "
                                f"(seed {ev.seed}, size {ev.size}) draw {shared} identical items (reasoning-gym "
                                f"seeds item i with seed + i); move the eval seed past {src.seed + src.size}")
    return warnings
