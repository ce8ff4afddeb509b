"""Probe one micro-teacher configuration: train it (teachers.bootstrap, real TRL SFT), sample it n times
per held-out prompt at one or more temperatures, print accuracy and length spread (docs/micro-teacher.md).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/micro_teacher_probe.py --recipe recipes/micro.yaml \\
        --set steps=400 learning_rate=3e-3 --temps 0.7 1.0 --n 8 --prompts 64 --out /tmp/probe1

`--set` overrides fields of the recipe's teacher.bootstrap (JSON values; `model.hidden_size=192` for nested);
`--traces-only` trains nothing: it prints the statistics of the traces themselves (what a perfect imitation would
sample: n traces per held-out prompt, lengths in teacher tokens); `--load DIR` skips training and samples a model saved by an earlier probe; `--init DIR` continues training it. Held-out prompts come from the
recipe's first eval set (same task config and seed as the real run), so numbers match the demo's held-out split.
One JSON line per temperature is appended to `<out>/results.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def apply_overrides(boot: dict, pairs: list[str]) -> dict:
    for pair in pairs:
        key, value = pair.split("=", 1)
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
        target, *path = key.split(".")
        node = boot
        for part in [target, *path][:-1]:
            node = node.setdefault(part, {})
        node[[target, *path][-1]] = value
    return boot


def heldout_rows(recipe: dict, size: int) -> list[dict]:
    import reasoning_gym

    ev = recipe["prompts"]["eval_sets"][0]
    ds = reasoning_gym.create_dataset(ev.get("dataset") or ev["name"], size=size, seed=ev.get("seed", 0),
                                      **ev.get("config", {}))
    return [{"prompt": x["question"], "gold": x["answer"], "task": f"procedural:{x['metadata']['source_dataset']}",
             "metadata": x["metadata"]} for x in ds]


def train_rows(recipe: dict) -> list[dict]:
    import reasoning_gym

    rows = []
    for src in recipe["prompts"]["sources"]:
        ds = reasoning_gym.create_dataset(src.get("dataset") or src["name"], size=src["size"], seed=src.get("seed", 0),
                                          **src.get("config", {}))
        rows += [{"prompt": x["question"]} for x in ds]
    return rows


def train_teacher(cfg, excluded: set[str], out: Path, init: str | None = None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from students.tiny import save_pretrained
    from teachers import bootstrap as B

    traces = B.training_traces(cfg, excluded)
    if init:  # continue training an earlier probe's model (a cheaper way to see "more steps")
        model, tok = AutoModelForCausalLM.from_pretrained(init), AutoTokenizer.from_pretrained(init)
    else:
        model, tok = B.build_teacher(cfg, traces)
    trainer = B.sft_trainer(cfg, model, tok, B.messages_dataset(traces), out, log=lambda m: print(m, flush=True))
    log, wall = B.train(trainer, out)
    save_pretrained(trainer.model, tok, out / "model")
    curve = B.loss_curve(log)
    tokens = int(trainer.state.num_input_tokens_seen)
    return trainer.model, tok, {
        "parameters": sum(p.numel() for p in trainer.model.parameters()), "train_seconds": round(wall, 1),
        "train_tokens": tokens, "tokens_per_s": round(tokens / wall), "final_loss": curve[-1][1],
        "loss_curve": curve[:: max(1, len(curve) // 10)], "mean_trace_chars": sum(len(t.completion) for t in traces) // len(traces)}


def detour_stats(samples: list[list[tuple[str, int]]], graded: list[list[tuple[bool, int]]]) -> dict:
    """Lengths and accuracy by number of re-verification detours ("Wait, ..." / "Hmm, ..." passes) in a sample."""
    by = {}
    for outs, marks in zip(samples, graded):
        for (text, n), (ok, _) in zip(outs, marks):
            k = text.count("Wait, ") + text.count("Hmm, ")
            by.setdefault(k, []).append((ok, n))
    mean = sum(n for v in by.values() for _, n in v) / max(sum(len(v) for v in by.values()), 1)
    shortest = [min(n for ok, n in g if ok) for g in graded if any(ok for ok, _ in g)]
    kept = [n for g in graded for n in [n for ok, n in g if ok][:4]]  # the long SFT data: up to 4 correct
    projection = {"shortest_correct_mean_tokens": round(sum(shortest) / len(shortest), 1),
                  "long_data_mean_tokens": round(sum(kept) / len(kept), 1),
                  "shortest_correct_over_long_data": round(sum(shortest) / len(shortest) / (sum(kept) / len(kept)), 3)
                  } if shortest else {}
    zero = [n for _, n in by.get(0, [])]
    return {"no_detour_mean_tokens": round(sum(zero) / len(zero), 1) if zero else None,
            "no_detour_share_of_mean": round(sum(zero) / len(zero) / mean, 3) if zero else None,
            **projection,
            "by_detours": {k: {"samples": len(v), "accuracy": round(sum(o for o, _ in v) / len(v), 3)}
                           for k, v in sorted(by.items())}}


def main() -> None:
    import yaml
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from teachers import bootstrap as B
    from teachers.config import BootstrapConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="recipes/micro.yaml")
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--temps", nargs="+", type=float, default=[1.0])
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--max-new", type=int, default=None)
    ap.add_argument("--load", default=None, help="sample this saved model, no training")
    ap.add_argument("--init", default=None, help="continue training this saved model")
    ap.add_argument("--traces-only", action="store_true", help="statistics of the generator's traces, no training")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    recipe = yaml.safe_load(open(args.recipe))
    cfg = BootstrapConfig.model_validate(apply_overrides(recipe["teacher"]["bootstrap"], args.set))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = heldout_rows(recipe, max(args.prompts, 200))
    excluded = {r["prompt"] for r in rows} | {r["prompt"] for r in train_rows(recipe)}
    if args.traces_only:
        stats = B.trace_stats(B.trace_style(cfg), [r["prompt"] for r in rows[:args.prompts]], args.n)
        print(json.dumps({"set": args.set, "traces_only": True, **stats}), flush=True)
        return
    if args.load:
        model, tok, info = AutoModelForCausalLM.from_pretrained(args.load), AutoTokenizer.from_pretrained(args.load), {}
    else:
        model, tok, info = train_teacher(cfg, excluded, out, args.init)
    print(json.dumps(info), flush=True)
    max_new = args.max_new or recipe.get("generation", {}).get("max_tokens", cfg.max_length)
    for temp in args.temps:
        start = time.perf_counter()
        samples = B.sample(model, tok, [r["prompt"] for r in rows[:args.prompts]], args.n, temp, max_new, seed=0)
        graded = B.grade(rows[:args.prompts], samples)
        stats = B.spread_stats(graded) | detour_stats(samples, graded)
        truncated = sum(1 for s in samples for text, _ in s if "</think>" not in text)
        result = {"set": args.set, "temperature": temp, **stats, "no_answer": truncated,
                  "sample_seconds": round(time.perf_counter() - start, 1), **info}
        print(json.dumps(result), flush=True)
        with open(out / "results.jsonl", "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
