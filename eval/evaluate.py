"""Stage `eval.<label>`: evaluate one model with lm-eval on the recipe's tasks, R1 protocol.

    model = ctx.inputs["model"]/model (a student or the bootstrapped teacher), else config["teacher_model"]

pass@1 averaged over k samples per prompt (DeepSeek-R1 eval protocol), a 95 % bootstrap interval over prompts,
mean completion tokens (model tokenizer) and the share truncated (no `</think>`: no answer, scored 0).
Writes `results.json` (contract in docs/architecture.md) and one sample log per task, `samples/<task>.jsonl`,
with each completion's verdict (`correct`), from which the report reads accuracy at smaller budgets (eval/budget.py).
A rerun in the same work folder reuses `results.json` when it is already there.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from core.atomic import write_json, write_jsonl
from factory.stages import StageContext
from core.think import answer_or_none
from eval.stats import BOOTSTRAP_ITERS, bootstrap_ci  # noqa: F401  (BOOTSTRAP_ITERS: the old name here)

def model_source(ctx: StageContext) -> str:
    """Folder of the model to evaluate (upstream artifact) or the recipe's teacher id/path (a .gguf teacher:
    its converted folder, students.gguf)."""
    from students.gguf import resolve as resolve_gguf

    if "model" in ctx.inputs:
        path = ctx.input("model") / "model"
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"stage {ctx.name}: input model folder {path} has no config.json")
        return str(path)
    teacher = ctx.config.get("teacher_model")
    if not teacher:
        raise ValueError(f"stage {ctx.name}: no model input and no teacher_model in the config")
    if ctx.recipe is not None and Path(ctx.recipe.resolve_path(teacher)).exists():
        teacher = str(ctx.recipe.resolve_path(teacher))
    return resolve_gguf(teacher)


def _completions(sample: dict) -> list[str]:
    resps = sample["resps"]
    return [r for group in resps for r in (group if isinstance(group, list) else [group])]


def sample_rows(task: str, samples: list[dict], tokenizer, scorer=None) -> list[dict]:
    """One row per completion: the per-sample log a report can show examples from.

    `scorer` (the task's process_results) gives each completion's verdict; without it `correct` is None."""
    from eval.budget import completion_verdicts

    rows = []
    for s in sorted(samples, key=lambda s: s["doc_id"]):
        doc = s["doc"]
        prompt_id = doc.get("prompt_id", f"{task}-{s['doc_id']}")
        verdicts = completion_verdicts(s, scorer) if scorer is not None else None
        for i, text in enumerate(_completions(s)):
            rows.append({
                "task": task, "doc_id": s["doc_id"], "prompt_id": prompt_id, "sample_idx": i,
                "completion": text,
                "answer": answer_or_none(text),
                "completion_tokens": len(tokenizer(text, add_special_tokens=False)["input_ids"]),
                "truncated": answer_or_none(text) is None,
                "correct": verdicts[i] if verdicts is not None else None,
                "prompt_acc": float(s.get("acc", 0.0)),
            })
    return rows


def task_metrics(samples: list[dict], rows: list[dict], k: int, seed: int) -> dict:
    per_prompt = [float(s.get("acc", 0.0)) for s in sorted(samples, key=lambda s: s["doc_id"])]
    n = max(len(rows), 1)
    return {
        "acc": sum(per_prompt) / max(len(per_prompt), 1),
        "acc_ci": bootstrap_ci(per_prompt, seed),
        "tokens": sum(r["completion_tokens"] for r in rows) / n,
        "truncated": sum(r["truncated"] for r in rows) / n,
        "n_prompts": len(per_prompt),
        "k": k,
    }


def _tokenizer(model_path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path)


def run(ctx: StageContext) -> dict:
    from eval import lm_eval_runner as runner
    from eval.budget import task_scorer

    cfg = ctx.config["eval"]
    label = ctx.config.get("label", ctx.name.removeprefix("eval."))
    results_path = ctx.out / "results.json"
    if results_path.exists():  # resumed after a crash between writing results and the manifest
        done = json.loads(results_path.read_text())
        ctx.log(f"reusing {results_path.name}")
        return _summary(done, 0.0)
    model_path = model_source(ctx)
    tok = _tokenizer(model_path)
    eval_sets = ctx.input("prompts") / "eval" if "prompts" in ctx.inputs else None
    include = runner.materialize_tasks(cfg["tasks"], cfg, ctx.out / "tasks", runner.stop_strings(tok), eval_sets)
    ctx.log(f"evaluating {label} ({model_path}) on {', '.join(cfg['tasks'])} with k={cfg['k']}, "
            f"T={cfg['temperature']}, max_gen_toks={cfg['max_gen_toks']}, backend {cfg['backend']}")
    started = time.time()
    lm = runner.build_lm(cfg, model_path, tokenizer=tok)
    _, samples = runner.evaluate(lm, cfg["tasks"], include, cfg)
    gen_s = time.time() - started
    tasks = {}
    for task in cfg["tasks"]:
        rows = sample_rows(task, samples[task], tok, task_scorer(include, task))
        write_jsonl(ctx.out / "samples" / f"{task}.jsonl", rows)
        tasks[task] = task_metrics(samples[task], rows, cfg["k"], cfg["seed"])
        ctx.log(f"{task}: acc {tasks[task]['acc']:.3f} {tasks[task]['acc_ci']}, "
                f"{tasks[task]['tokens']:.1f} tokens, truncated {tasks[task]['truncated']:.2f}")
    result = {"label": label, "model": model_path, "tasks": tasks}
    write_json(results_path, result)
    return _summary(result, gen_s)


def _summary(result: dict, gen_s: float) -> dict:
    tasks = result["tasks"]
    completions = sum(t["n_prompts"] * t["k"] for t in tasks.values())
    tokens = sum(t["tokens"] * t["n_prompts"] * t["k"] for t in tasks.values())
    return {"label": result["label"], "tasks": tasks, "completions": completions,
            "generated_tokens": round(tokens), "eval_s": round(gen_s, 2),
            "tokens_per_s": round(tokens / gen_s, 1) if gen_s else None}
