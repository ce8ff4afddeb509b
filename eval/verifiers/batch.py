"""Judge many sample rows at once with a process pool: what the verify stage and the benchmark use.

Rows are grouped by prompt so one worker sees a prompt's n samples together and its cache (gold parse,
(gold, answer) verdicts) pays off; groups are packed into a few chunks per worker to keep IPC small.
Workers are forked from a fork server (a fresh process, never this one: the parent may hold threads or
torch) that imported and warmed the verifiers once (eval/verifiers/_preload.py).
Each row gets `verdict`, `format_ok`, `lang_ok` (and `truncated` when missing), in input order.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from itertools import groupby

from eval.config import VerificationConfig
from eval.verifiers.format import split_think
from eval.verifiers.judge import as_config, judge
from eval.verifiers.language import language_ok


def annotate(row: dict, prompt: dict, cfg: VerificationConfig) -> dict:
    """The row with its verdict, format and language flags added (a new dict); `reasoning`, `answer` and
    `truncated` are filled from split_think when the generator left them out."""
    completion = row.get("completion")
    if not isinstance(completion, str):
        raise ValueError("sample field 'completion' is missing or not a string")
    split = split_think(completion)
    return {
        "reasoning": split.reasoning,
        "answer": split.answer,
        **row,
        "verdict": judge(completion, prompt, cfg),
        "format_ok": split.format_ok,
        "lang_ok": language_ok(split.reasoning, prompt, cfg.language_threshold),
        "truncated": row.get("truncated", split.truncated) or split.truncated,
    }


def _judge_chunk(chunk: list[tuple[dict, dict]], cfg_dict: dict) -> list[dict]:
    cfg = VerificationConfig.model_validate(cfg_dict)
    out = []
    for row, prompt in chunk:
        try:
            out.append(annotate(row, prompt, cfg))
        except ValueError as e:
            raise ValueError(f"sample ({row.get('prompt_id')!r}, {row.get('sample_idx')}): {e}") from None
    return out


def _chunks(pairs: list[tuple[dict, dict]], n_chunks: int) -> list[list[tuple[dict, dict]]]:
    groups = [list(g) for _, g in groupby(pairs, key=lambda p: p[0].get("prompt_id"))]
    target = max(1, len(pairs) // max(1, n_chunks))
    chunks, current = [], []
    for group in groups:
        current.extend(group)
        if len(current) >= target:
            chunks.append(current)
            current = []
    return chunks + ([current] if current else [])


def make_pool(workers: int) -> ProcessPoolExecutor | None:
    """A pool of `workers` processes forked from a warm fork server, or None for workers == 1 (judge here)."""
    if workers <= 1:
        return None
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["eval.verifiers._preload"])
    return ProcessPoolExecutor(workers, mp_context=ctx)


def judge_rows(
    rows: list[dict], prompts: dict[str, dict], cfg=None, pool: ProcessPoolExecutor | None = None
) -> list[dict]:
    """Annotated copies of `rows` (same order); `prompts` maps prompt_id -> prompt row."""
    cfg = as_config(cfg)
    pairs = []
    for i, row in enumerate(rows):
        prompt = prompts.get(row.get("prompt_id"))
        if prompt is None:
            raise ValueError(f"sample {i}: prompt_id {row.get('prompt_id')!r} is not among the prompts")
        pairs.append((row, prompt))
    order = sorted(range(len(pairs)), key=lambda i: str(pairs[i][0].get("prompt_id")))
    grouped = [pairs[i] for i in order]
    if pool is None:
        judged = _judge_chunk(grouped, cfg.model_dump())
    else:
        n_chunks = 4 * max(1, getattr(pool, "_max_workers", 1))
        futures = [pool.submit(_judge_chunk, c, cfg.model_dump()) for c in _chunks(grouped, n_chunks)]
        judged = [row for f in futures for row in f.result()]
    result: list[dict] = [{}] * len(rows)
    for position, row in zip(order, judged):
        result[position] = row
    return result
