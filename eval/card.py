"""The model card (README.md) of a released student, written from the run's manifests, never by hand.

The metadata is huggingface_hub's `ModelCardData` with a `model-index` of the eval results (one `EvalResult` per
task: pass@1 accuracy, mean completion tokens, share truncated), so the Hub shows them; the body has the summary,
how to use it (the sampling it was evaluated with, from the recipe's `eval` config), the evaluation table, gates,
lineage (teacher, datasets with their cards, the training config), intended use and limits, and reproduction
(recipe, stage hashes, library versions).
"""

from __future__ import annotations

import json

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from eval.leaderboard import fmt_acc

R1_SAMPLING = {"temperature": 0.6, "top_p": 0.95}  # DeepSeek-R1's protocol: the eval config's defaults


def recommended_sampling(eval_config: dict | None) -> dict:
    """generation_config.json's sampling: what the student was evaluated with (the recipe's `eval`)."""
    ev = {**R1_SAMPLING, **{k: v for k, v in (eval_config or {}).items() if k in R1_SAMPLING}}
    if ev["temperature"] <= 0:
        return {"do_sample": False}
    return {"do_sample": True, "temperature": ev["temperature"], "top_p": ev["top_p"]}


def _sampling_text(sampling: dict) -> str:
    if not sampling["do_sample"]:
        return "greedy decoding (temperature 0)"
    return f"temperature {sampling['temperature']}, top-p {sampling['top_p']}"


def eval_results(results: dict, eval_config: dict, datasets: dict[str, str] | None = None) -> list[EvalResult]:
    """model-index entries: per task, pass@1 accuracy (%), mean completion tokens and the share truncated."""
    k = eval_config.get("k", "?")
    out = []
    for task, m in sorted(results.items()):
        where = {"task_type": "text-generation", "dataset_type": (datasets or {}).get(task, task),
                 "dataset_name": task}
        out += [EvalResult(**where, metric_type="accuracy", metric_value=round(100 * m["acc"], 2),
                           metric_name=f"pass@1 % (mean over k={m.get('k', k)})",
                           metric_args={"ci95": [round(100 * v, 2) for v in m.get("acc_ci", [])]}),
                EvalResult(**where, metric_type="mean_tokens", metric_value=round(m["tokens"], 1),
                           metric_name="mean completion tokens"),
                EvalResult(**where, metric_type="truncated", metric_value=round(m["truncated"], 4),
                           metric_name="share of completions with no </think>")]
    return out


def card_data(info: dict) -> ModelCardData:
    return ModelCardData(
        model_name=info["repo_id"], library_name="transformers", pipeline_tag="text-generation",
        tags=["distillation", "reasoning", "long2short", f"factory-recipe-{info['recipe']}"],
        datasets=sorted(info.get("dataset_repos") or []) or None,
        eval_results=eval_results(info["results"], info.get("eval_config") or {}, info.get("task_datasets")) or None,
    )


def _eval_table(results: dict) -> str:
    lines = ["| task | accuracy % [95% CI] | mean tokens | truncated | prompts | k |", "|---|---|---|---|---|---|"]
    for task, m in sorted(results.items()):
        lines.append(f"| {task} | {fmt_acc(m)} | {m['tokens']:.0f} | {100 * m['truncated']:.0f}% | "
                     f"{m['n_prompts']} | {m['k']} |")
    return "\n".join(lines)


def _datasets_section(datasets: dict[str, str]) -> str:
    if not datasets:
        return "No dataset card was found in the run."
    parts = []
    for name, card in sorted(datasets.items()):
        body = card.split("---", 2)[-1].strip() if card.startswith("---") else card.strip()
        parts.append(f"<details><summary>dataset <code>{name}</code></summary>\n\n{body}\n\n</details>")
    return "\n\n".join(parts)


def render_card(info: dict) -> ModelCard:
    """info: label, repo_id, recipe, teacher, lineage, student_config, results, gate, datasets{name: card},
    stages{name: hash}, versions, eval_config; optional dataset_repos (released datasets) and task_datasets
    (task -> Hub dataset id)."""
    gate = info["gate"]
    cfg_json = json.dumps(info.get("student_config") or {}, indent=2, sort_keys=True)
    stages = "\n".join(f"| {n} | `{h[:12]}` |" for n, h in sorted(info.get("stages", {}).items()))
    versions = ", ".join(f"{k} {v}" for k, v in sorted((info.get("versions") or {}).items()))
    ev = {**R1_SAMPLING, **(info.get("eval_config") or {})}
    body = f"""
# {info['repo_id']}

A reasoning student distilled by the factory recipe `{info['recipe']}` (student `{info['label']}`).
Teacher: {info['teacher']}. Lineage: {info['lineage']}.

## How to use

It writes its reasoning inside `<think>...</think>`, then the answer. Sample it as it was evaluated
(saved in `generation_config.json`): {_sampling_text(recommended_sampling(ev))}.

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained("{info['repo_id']}")
model = AutoModelForCausalLM.from_pretrained("{info['repo_id']}")
messages = [{{"role": "user", "content": "What is 17 + 25?"}}]
ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
print(tok.decode(model.generate(ids, max_new_tokens=512)[0][ids.shape[1]:]))
```

## Evaluation

lm-eval {(info.get('versions') or {}).get('lm_eval', '')}, R1 protocol: pass@1 averaged over k = {ev.get('k', '?')}
samples per prompt at T = {ev.get('temperature', '?')}, top-p {ev.get('top_p', '?')}, up to
{ev.get('max_gen_toks', '?')} new tokens; 95 % bootstrap interval over prompts. A completion with no `</think>`
has no answer and scores 0 (counted in "truncated").

{_eval_table(info['results'])}

## Gates

{'Passed' if gate.get('passed') else 'FAILED'}:
{chr(10).join('- ' + r for r in gate.get('reasons', []))}

## Training

Student job configuration (from the stage manifest):

```json
{cfg_json}
```

### Datasets

{_datasets_section(info.get('datasets', {}))}

## Intended use and limits

A research artifact for studying reasoning distillation and long-to-short compression. It was evaluated only on the
tasks above; its accuracy elsewhere is unknown. Small students hallucinate and make arithmetic slips; check every
answer that matters. Chains of thought can be long: set `max_new_tokens` generously or the answer may be cut off.
Not for medical, legal, financial or safety-critical decisions.

## Reproduce

`factory run recipes/{info['recipe']}.yaml` re-creates these artifacts (content hashes below). Library versions:
{versions or 'unknown'}.

| stage | hash |
|---|---|
{stages}
"""
    return ModelCard(f"---\n{card_data(info).to_yaml()}\n---\n{body}")
