"""The model card (README.md) of a released student, written from the run's manifests, never by hand.

Sections: summary, how to use (recommended sampling), evaluation table with tokens and truncation, gate results,
lineage (teacher, datasets with their cards, the student's training config, merge parents), intended use and
limits, and reproduction (recipe, stage hashes, library versions).
"""

from __future__ import annotations

import json

from eval.leaderboard import fmt_acc

RECOMMENDED_SAMPLING = {"do_sample": True, "temperature": 0.6, "top_p": 0.95}


def _front_matter(info: dict) -> str:
    tags = ["distillation", "reasoning", "long2short", f"factory-recipe-{info['recipe']}"]
    lines = ["---", "library_name: transformers", "pipeline_tag: text-generation", "tags:"]
    lines += [f"  - {t}" for t in tags]
    return "\n".join(lines + ["---", ""])


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


def render_card(info: dict) -> str:
    """info: label, repo_id, recipe, teacher, lineage, student_config, results, gate, datasets{name: card},
    stages{name: hash}, versions, eval_config."""
    gate = info["gate"]
    cfg_json = json.dumps(info.get("student_config") or {}, indent=2, sort_keys=True)
    stages = "\n".join(f"| {n} | `{h[:12]}` |" for n, h in sorted(info.get("stages", {}).items()))
    versions = ", ".join(f"{k} {v}" for k, v in sorted((info.get("versions") or {}).items()))
    ev = info.get("eval_config") or {}
    return f"""{_front_matter(info)}
# {info['repo_id']}

A reasoning student distilled by the factory recipe `{info['recipe']}` (student `{info['label']}`).
Teacher: {info['teacher']}. Lineage: {info['lineage']}.

## How to use

It writes its reasoning inside `<think>...</think>`, then the answer. Sample it as it was evaluated
(saved in `generation_config.json`): temperature 0.6, top-p 0.95.

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
