"""The `verify` stage: judge every teacher sample and write the shards back with verdicts.

Reads `ctx.input("samples")/samples/*.jsonl` (sorted; `*.partial.jsonl` and other files are ignored) and
`ctx.input("prompts")/train.jsonl`; writes `ctx.out/samples/<same name>.jsonl` with `verdict`, `format_ok`,
`lang_ok` added (docs/architecture.md). Each shard is written atomically once it is fully judged, so a crashed
run resumes by skipping shards already in ctx.out. Config: `verification` (eval.config.VerificationConfig).

The process pool (`workers`) starts only for a shard that holds code samples (each runs sandboxed programs
for up to `code_timeout_s`) or at least POOL_MIN_ROWS rows: math and procedural samples are judged at
thousands per second in process (bench/bench_verify.py), less than the pool's ~2-4 s start-up on 2 cores.

Run alone: `python -m eval.verify SAMPLES_DIR PROMPTS_DIR OUT_DIR` (a folder each, as the stage sees them).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from eval.config import VerificationConfig
from eval.verifiers.batch import judge_rows, make_pool
from core.atomic import read_jsonl, write_jsonl

POOL_MIN_ROWS = 20_000


def sample_shards(samples_dir: Path) -> list[Path]:
    """Finished shards of a generate artifact, in name order."""
    if not samples_dir.is_dir():
        raise FileNotFoundError(f"no samples folder: {samples_dir}")
    return sorted(
        p for p in samples_dir.iterdir()
        if p.is_file() and p.name.endswith(".jsonl") and not p.name.endswith(".partial.jsonl")
    )


def load_prompts(path: Path) -> dict[str, dict]:
    if not path.is_file():
        raise FileNotFoundError(f"no prompts file: {path}")
    prompts = {}
    for i, row in enumerate(read_jsonl(path)):
        if "prompt_id" not in row or "task" not in row:
            raise ValueError(f"{path}: line {i + 1} lacks 'prompt_id' or 'task'")
        prompts[row["prompt_id"]] = row
    return prompts


def needs_pool(rows: list[dict], prompts: dict[str, dict]) -> bool:
    """Worth a process pool: code samples (sandbox runs), or many rows."""
    if len(rows) >= POOL_MIN_ROWS:
        return True
    return any(str(prompts.get(r.get("prompt_id"), {}).get("task")) == "code" for r in rows)


def summarize(rows: list[dict], seconds: float, shards: int, resumed: int) -> dict:
    verdicts = [r["verdict"] for r in rows]
    correct = sum(v["correct"] is True for v in verdicts)
    by_verifier: dict[str, dict] = {}
    for v in verdicts:
        entry = by_verifier.setdefault(v["verifier"], {"samples": 0, "correct": 0})
        entry["samples"] += 1
        entry["correct"] += v["correct"] is True
    return {
        "samples": len(rows),
        "correct": correct,
        "pass_rate": correct / len(rows) if rows else 0.0,
        "undecided": sum(v["correct"] is None for v in verdicts),
        "format_ok": sum(bool(r.get("format_ok")) for r in rows),
        "lang_ok": sum(bool(r.get("lang_ok")) for r in rows),
        "by_verifier": by_verifier,
        "by_reason": dict(Counter(v["reason"] for v in verdicts).most_common()),
        "shards": shards,
        "shards_resumed": resumed,
        "seconds": round(seconds, 3),
        "samples_per_s": round(len(rows) / seconds, 2) if seconds > 0 else None,
    }


def verify_folder(samples_dir: Path, prompts_file: Path, out: Path, cfg: VerificationConfig, log=print) -> dict:
    start = time.monotonic()
    shards = sample_shards(samples_dir)
    prompts = load_prompts(prompts_file)
    out_dir = out / "samples"
    all_rows, resumed = [], 0
    pool = None
    try:
        for shard in shards:
            target = out_dir / shard.name
            if target.is_file():
                resumed += 1
                all_rows.extend(read_jsonl(target))
                continue
            rows = read_jsonl(shard)
            if pool is None and needs_pool(rows, prompts):
                pool = make_pool(cfg.workers)
            try:
                rows = judge_rows(rows, prompts, cfg, pool)
            except ValueError as e:
                raise ValueError(f"{shard}: {e}") from None
            write_jsonl(target, rows)
            all_rows.extend(rows)
            log(f"verified {shard.name}: {sum(r['verdict']['correct'] is True for r in rows)}/{len(rows)} correct")
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return summarize(all_rows, time.monotonic() - start, len(shards), resumed)


def run(ctx) -> dict:
    """Stage entry (kind `verify`): see the module docstring."""
    cfg = VerificationConfig.model_validate(ctx.config.get("verification") or {})
    return verify_folder(
        ctx.input("samples") / "samples", ctx.input("prompts") / "train.jsonl", ctx.out, cfg, log=ctx.log
    )


def main(argv: list[str] | None = None) -> None:
    from core.atomic import dumps

    samples, prompts, out = (Path(a) for a in (argv or sys.argv[1:]))
    print(dumps(verify_folder(samples / "samples", prompts / "train.jsonl", out, VerificationConfig())))


if __name__ == "__main__":
    main()
