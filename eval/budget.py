"""Accuracy at smaller token budgets, from an eval's saved samples: a length cut at one budget can hide a loss at another.

Sampling is token by token, so generating with `max_gen_toks = B` gives exactly the first B tokens of a completion
sampled with a larger cap. Accuracy at B therefore needs no new generation: a completion that had not closed
`</think>` and ended within B tokens would have been cut before its answer (no answer, scored 0, as everywhere in
this factory); one that did keeps its verdict. The interval is the eval's own 95 % bootstrap over prompts
(`eval.stats.bootstrap_ci`, same seed), so at the eval's own `max_gen_toks` the figure is the leaderboard's.

Needs each completion's verdict, which `eval.evaluate` writes into `samples/<task>.jsonl` (`correct`); a sample
log without it (an eval stage from before this field) gives no budget figures rather than guessed ones.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

DEFAULT_FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def default_budgets(max_gen_toks: int) -> list[int]:
    """A quarter, half, three quarters and all of the eval's generation cap."""
    return sorted({max(1, round(f * max_gen_toks)) for f in DEFAULT_FRACTIONS})


# ---------------------------------------------------------------- per-completion verdicts (at eval time)
def task_scorer(include_dir: Path, task: str):
    """The task's lm-eval `process_results` (`!function r1_utils.<name>`), loaded from the materialized folder."""
    from eval.lm_eval_runner import read_task_yaml

    ref = str(read_task_yaml(Path(include_dir) / f"{task}.yaml")["process_results"])
    module_name, func = ref.rsplit(".", 1)
    spec = importlib.util.spec_from_file_location(f"_budget_{module_name}", Path(include_dir) / f"{module_name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, func)


def _flat(values: list) -> list:
    return [v for group in values for v in (group if isinstance(group, list) else [group])]


def completion_verdicts(sample: dict, scorer) -> list[bool]:
    """Right/wrong per completion of one logged lm-eval sample (k completions, `acc` their mean).

    All right or all wrong needs no scoring; a mixed prompt scores each (filtered) completion alone."""
    k = len(_flat(sample["resps"]))
    acc = float(sample.get("acc", 0.0))
    if acc in (0.0, 1.0):
        return [acc == 1.0] * k
    verdicts = [scorer(sample["doc"], [[resp]])["acc"] == 1.0 for resp in _flat(sample["filtered_resps"])]
    if len(verdicts) != k or abs(sum(verdicts) / k - acc) > 1e-9:
        raise RuntimeError(f"doc {sample.get('doc_id')}: scoring its {k} completions one by one gives "
                           f"{sum(verdicts)}/{len(verdicts)} right, lm-eval's acc was {acc}")
    return verdicts


# ---------------------------------------------------------------- accuracy at each budget (at report time)
def answered_within(row: dict, budget: int, max_gen_toks: int) -> bool:
    """Right at this budget: right, and finished within it (at the eval's own cap, everything that closed did)."""
    return bool(row["correct"]) and (budget >= max_gen_toks or row["completion_tokens"] <= budget)


def budget_metrics(rows: list[dict], budgets: list[int], max_gen_toks: int, seed: int = 0) -> list[dict] | None:
    """acc, 95 % CI over prompts and the share of completions finished, at each budget; None without verdicts."""
    from eval.stats import bootstrap_ci

    if not rows or any(r.get("correct") is None for r in rows):
        return None
    by_prompt: dict = {}
    for r in rows:
        by_prompt.setdefault(r["doc_id"], []).append(r)
    prompts = [by_prompt[d] for d in sorted(by_prompt)]
    out = []
    for b in budgets:
        per_prompt = [sum(answered_within(r, b, max_gen_toks) for r in p) / len(p) for p in prompts]
        finished = sum(1 for r in rows if not r["truncated"] and (b >= max_gen_toks or r["completion_tokens"] <= b))
        out.append({"max_gen_toks": b, "acc": sum(per_prompt) / len(per_prompt),
                    "acc_ci": bootstrap_ci(per_prompt, seed), "finished": finished / len(rows)})
    return out


def eval_budgets(eval_dir: Path, budgets: list[int], max_gen_toks: int, seed: int = 0) -> dict[str, list[dict] | None]:
    """task -> budget metrics for one eval artifact's `samples/<task>.jsonl` (None: no verdicts logged)."""
    out = {}
    for path in sorted((Path(eval_dir) / "samples").glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        out[path.stem] = budget_metrics(rows, budgets, max_gen_toks, seed)
    return out
