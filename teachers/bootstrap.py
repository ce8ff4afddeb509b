"""Stage `bootstrap`: make a small teacher offline by SFT on programmatic verbose chains of thought.

The micro recipe cannot download a large reasoner, so it builds one (DESIGN.md "The micro recipe"):
reasoning-gym items -> `teachers.traces` (long, variable-length, sometimes wrong traces) -> a
split-digit BPE tokenizer and a random-init Qwen2/Llama (`students.tiny`) -> TRL's SFTTrainer
(`messages` format, assistant-only loss, fp32 CPU) -> `ctx.out/model/`. Sampling the result gives
answers that differ in length and sometimes in correctness, which is what long2short needs.

Held-out prompts stay held out: every prompt of `ctx.input("prompts")/eval/*.jsonl` is excluded from
the teacher's training items. The recipe's train prompts (`train.jsonl`) are excluded too (when
`exclude_train_prompts`, the default): the generate stage samples the teacher on exactly those, and a
teacher that had memorized them would be more accurate there than on held-out prompts, so its pass
rates, the rejection-sampled data and the "teacher" gate baseline would not describe the same model.
With ~10k distinct 2-digit sums, excluding a few hundred costs nothing.

The stage resumes from its last checkpoint in `ctx.out/checkpoints/` after a crash and deletes the
checkpoints once the model is saved. The summary reports parameters, steps, training tokens, tokens/s,
the final loss and the teacher's quick sampled accuracy and length spread on held-out prompts.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import time
from pathlib import Path

from core.atomic import read_jsonl
from core.think import answer_or_none
from teachers.config import BootstrapConfig
from teachers.traces import TraceStyle, trace_for_item

CHECKPOINTS = "checkpoints"


# ---------------------------------------------------------------- which prompts are off limits
def eval_rows(prompts_dir: Path) -> list[dict]:
    """Every held-out prompt row, all eval sets together, in a stable order."""
    rows = []
    for path in sorted((Path(prompts_dir) / "eval").glob("*.jsonl")):
        rows += read_jsonl(path)
    return rows


def excluded_prompts(prompts_dir: Path, exclude_train: bool) -> set[str]:
    """Prompt texts the teacher must not train on: all eval sets, and the recipe's train prompts if asked."""
    texts = {r["prompt"] for r in eval_rows(prompts_dir)}
    train = Path(prompts_dir) / "train.jsonl"
    if exclude_train and train.exists():
        texts |= {r["prompt"] for r in read_jsonl(train)}
    return texts


# ---------------------------------------------------------------- the training data
def trace_style(cfg: BootstrapConfig) -> TraceStyle:
    return TraceStyle(min_checks=cfg.min_checks, max_checks=cfg.max_checks, error_rate=cfg.error_rate,
                      caught_slip_rate=cfg.caught_slip_rate, design=cfg.trace_style,
                      direct_rate=cfg.direct_rate)


def training_traces(cfg: BootstrapConfig, excluded: set[str]) -> list:
    """`cfg.train_examples` traces (split across tasks) for items whose question is not excluded."""
    import reasoning_gym

    per_task = -(-cfg.train_examples // len(cfg.tasks))
    style, traces = trace_style(cfg), []
    for t, task in enumerate(cfg.tasks):
        # Draw extra items so that exclusions still leave per_task of them.
        pool = reasoning_gym.create_dataset(task, size=per_task * 2 + len(excluded), seed=cfg.seed + t,
                                            **cfg.task_config)
        kept = [item for item in pool if item["question"] not in excluded][:per_task]
        traces += [trace_for_item(item, f"{cfg.seed}:{task}:{i}", style) for i, item in enumerate(kept)]
    random.Random(cfg.seed).shuffle(traces)
    return traces[:cfg.train_examples]


def messages_dataset(traces):
    from datasets import Dataset

    return Dataset.from_list([{"messages": [{"role": "user", "content": t.question},
                                            {"role": "assistant", "content": t.completion}]} for t in traces])


def trace_tokenizer(cfg: BootstrapConfig, traces):
    """Split-digit BPE tokenizer trained on (a slice of) the traces; deterministic given them."""
    from students.tiny import build_tokenizer

    corpus = [t.question for t in traces[:4000]] + [t.completion for t in traces[:4000]]
    return build_tokenizer(corpus, vocab_size=cfg.vocab_size)


def build_teacher(cfg: BootstrapConfig, traces, tokenizer=None):
    """A random-init model sized by cfg.model over `tokenizer` (default: one trained on these traces)."""
    from students.tiny import build_model

    tokenizer = tokenizer or trace_tokenizer(cfg, traces)
    return build_model(tokenizer, cfg.model, seed=cfg.seed), tokenizer


def teacher_tokenizer(teacher_raw: dict, prompts_dir: Path):
    """The bootstrapped teacher's own tokenizer, rebuilt from the teacher's traces (same config, same exclusions):
    a student base made with it shares the teacher's vocabulary (on-policy distillation needs that) without
    waiting for the teacher's training."""
    tcfg = BootstrapConfig.model_validate(teacher_raw)
    return trace_tokenizer(tcfg, training_traces(tcfg, excluded_prompts(prompts_dir, tcfg.exclude_train_prompts)))


def trace_stats(style: TraceStyle, questions: list[str], n: int = 8, tokenizer=None) -> dict:
    """What a perfect imitation of the traces would sample: n traces per question, lengths in teacher tokens.

    The cheap half of a teacher probe (no training): the length spread, how short a trace with no detours is
    against the mean, and the accuracy the traces teach (docs/micro-teacher.md, issue #18's bars)."""
    from students.tiny import build_tokenizer
    from teachers.traces import write_trace

    traces = [[write_trace(q, random.Random(f"sample{s}:{q}"), style) for s in range(n)] for q in questions]
    tok = tokenizer or build_tokenizer(questions + [t.completion for ts in traces for t in ts], vocab_size=512)
    ratios, lengths, plain, right, shortest, kept = [], [], [], [], [], []
    for ts in traces:
        lens = [len(tok(t.completion, add_special_tokens=False)["input_ids"]) for t in ts]
        lengths += lens
        right += [not t.wrong for t in ts]
        plain += [length for t, length in zip(ts, lens)
                  if t.checks == 0 and not t.wrong and "mistake" not in t.reasoning]  # no detour, no caught slip
        correct = [length for t, length in zip(ts, lens) if not t.wrong]
        if correct:  # what the datasets keep: the shortest correct (short SFT) and up to 4 correct (long SFT)
            shortest.append(min(correct))
            kept += correct[:4]
        if len(correct) >= 2:
            ratios.append(max(correct) / min(correct))
    mean = statistics.mean(lengths)
    return {"accuracy": sum(right) / len(right), "mean_tokens": round(mean, 1),
            "median_longest_over_shortest_correct": round(statistics.median(ratios), 2),
            "no_detour_tokens": round(statistics.mean(plain), 1) if plain else None,
            "no_detour_share_of_mean": round(statistics.mean(plain) / mean, 3) if plain else None,
            "shortest_correct_over_long_data": round(statistics.mean(shortest) / statistics.mean(kept), 3),
            "p99_tokens": sorted(lengths)[int(0.99 * len(lengths))], "max_tokens": max(lengths)}


def pretrained_teacher(path: str):
    """A real model (`init_path`) with its family's tokenizer (teachers.families via students.common): its
    own template wrapped for assistant-only loss, eos = turn end, pad reused. SmolLM2 writes no `<think>`, and
    the factory scores a completion without `</think>` as no answer, so a few steps on the traces teach it."""
    from students.common import load_tokenizer
    from students.loading import load_model
    from students.gguf import resolve

    path = resolve(path)
    tokenizer = load_tokenizer(path)
    return load_model(path, None, tokenizer), tokenizer


def save_teacher(model, tokenizer, out: Path, pretrained: bool) -> None:
    """Save the model; a pretrained one also gets its family's stop tokens in generation_config."""
    from students.common import set_stop_tokens
    from students.tiny import save_pretrained

    if pretrained:
        set_stop_tokens(model, tokenizer)
    save_pretrained(model, tokenizer, out)


# ---------------------------------------------------------------- training (a thin TRL call)
def loss_logger(log):
    """A TrainerCallback that sends 'step N/M loss L' lines to `log` (stage.log / the console)."""
    from transformers import TrainerCallback

    class LossLogger(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                log(f"step {state.global_step}/{state.max_steps} loss {float(logs['loss']):.3f}")

    return LossLogger()


def sft_trainer(cfg: BootstrapConfig, model, tokenizer, dataset, out: Path, log=None):
    import datasets
    from trl import SFTConfig, SFTTrainer

    datasets.disable_progress_bars()

    args = SFTConfig(
        output_dir=str(out / CHECKPOINTS), max_steps=cfg.steps, per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup_ratio,
        weight_decay=0.0, max_length=cfg.max_length, assistant_only_loss=True, packing=False,
        use_cpu=True, bf16=False, fp16=False, seed=cfg.seed, data_seed=cfg.seed, dataloader_num_workers=0,
        report_to=[], disable_tqdm=True, log_level="error", logging_steps=max(1, cfg.steps // 50),
        save_strategy="steps", save_steps=cfg.checkpoint_every, save_total_limit=1,
        include_num_input_tokens_seen="non_padding",
    )
    from transformers import PrinterCallback

    from factory.progress import trainer_progress_callback

    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)  # no per-step dict dumps; the loss curve goes in the summary
    trainer.add_callback(trainer_progress_callback("bootstrap"))
    if log is not None:
        trainer.add_callback(loss_logger(log))
    return trainer


def train(trainer, out: Path) -> tuple[dict, float]:
    """Train (resuming from the newest checkpoint in out/checkpoints if a crash left one); return the log and seconds."""
    from students.common import latest_checkpoint  # skips a checkpoint a kill left half-saved

    resume = latest_checkpoint(out)
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    return trainer.state.log_history, time.perf_counter() - start


def loss_curve(log_history: list[dict]) -> list[tuple[int, float]]:
    return [(e["step"], e["loss"]) for e in log_history if "loss" in e]


# ---------------------------------------------------------------- a quick sampled check
def score_fn(row: dict):
    import reasoning_gym

    task = (row.get("metadata") or {}).get("source_dataset") or row["task"].split(":")[-1]
    return reasoning_gym.get_score_answer_fn(task)


def final_answer(completion: str) -> str | None:
    """Text after `</think>`; None when the trace never closed (no answer, lm-eval issue 3382)."""
    return answer_or_none(completion)


def sample(model, tokenizer, prompts: list[str], n: int, temperature: float, max_new_tokens: int,
           seed: int, batch_size: int = 64) -> list[list[tuple[str, int]]]:
    """n sampled completions (text, token count) per prompt with transformers generate."""
    import torch

    tokenizer.padding_side = "left"
    model.eval()
    torch.manual_seed(seed)
    flat = [p for p in prompts for _ in range(n)]
    outs = []
    for i in range(0, len(flat), batch_size):
        chats = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                               add_generation_prompt=True) for p in flat[i:i + batch_size]]
        enc = tokenizer(chats, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            gen = model.generate(**enc, do_sample=temperature > 0, temperature=temperature or None, top_p=1.0,
                                 max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id)
        for row in gen[:, enc["input_ids"].shape[1]:]:
            ids = row.tolist()
            stop = ids.index(tokenizer.eos_token_id) if tokenizer.eos_token_id in ids else len(ids)
            length = min(stop + 1, len(ids))  # tokens generated, EOS included
            # keep <think>/</think> (registered as special by students.tiny's BPE trainer): decode up to EOS as is
            outs.append((tokenizer.decode(ids[:stop], skip_special_tokens=False), length))
    return [outs[j * n:(j + 1) * n] for j in range(len(prompts))]


def grade(rows: list[dict], samples: list[list[tuple[str, int]]]) -> list[list[tuple[bool, int]]]:
    """(correct, tokens) per sample, scored by reasoning-gym on the extracted final answer."""
    graded = []
    for row, outs in zip(rows, samples):
        score = score_fn(row)
        entry = {"question": row["prompt"], "answer": row["gold"], "metadata": row.get("metadata") or {}}
        graded.append([(a is not None and score(a, entry) >= 1.0, n) for a, n in
                       ((final_answer(text), n) for text, n in outs)])
    return graded


def spread_stats(graded: list[list[tuple[bool, int]]]) -> dict:
    """Accuracy, length spread of correct samples, and how many prompts have both right and wrong samples."""
    flat = [c for g in graded for c, _ in g]
    ratios = [max(lens) / min(lens) for lens in ([n for c, n in g if c] for g in graded) if len(lens) >= 2]
    mixed = sum(1 for g in graded if 0 < sum(c for c, _ in g) < len(g))
    return {
        "accuracy": sum(flat) / len(flat),
        "mean_tokens": statistics.mean(n for g in graded for _, n in g),
        "median_longest_over_shortest_correct": statistics.median(ratios) if ratios else None,
        "prompts_with_2plus_correct": len(ratios),
        "prompts_mixed_right_wrong": mixed,
        "prompts": len(graded),
        "samples_per_prompt": len(graded[0]) if graded else 0,
    }


def probe(model, tokenizer, rows: list[dict], cfg: BootstrapConfig) -> dict:
    samples = sample(model, tokenizer, [r["prompt"] for r in rows], cfg.probe_samples, cfg.probe_temperature,
                     cfg.max_length, seed=cfg.seed)
    return spread_stats(grade(rows, samples)) | {"temperature": cfg.probe_temperature}


# ---------------------------------------------------------------- the stage
def run(ctx) -> dict:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # The teacher stage, or a student's pretrained stand-in base (`init: {bootstrap: ...}`).
    raw = ctx.config["base"] if "base" in ctx.config else ctx.config["teacher"]["bootstrap"]
    cfg = BootstrapConfig.model_validate(raw)
    prompts_dir = ctx.input("prompts")
    excluded = excluded_prompts(prompts_dir, cfg.exclude_train_prompts)
    traces = training_traces(cfg, excluded)
    ctx.log(f"{len(traces)} traces ({sum(t.wrong for t in traces)} wrong), {len(excluded)} prompts excluded")
    if cfg.init_path:
        model, tokenizer = pretrained_teacher(cfg.init_path)
    else:  # a student base of a bootstrapped teacher uses the teacher's tokenizer (factory/graph.py)
        shared = ctx.config.get("tokenizer_of")
        model, tokenizer = build_teacher(cfg, traces, shared and teacher_tokenizer(shared, prompts_dir))
    trainer = sft_trainer(cfg, model, tokenizer, messages_dataset(traces), ctx.out, log=ctx.log)
    log, wall_s = train(trainer, ctx.out)
    save_teacher(trainer.model, tokenizer, ctx.out / "model", pretrained=bool(cfg.init_path))
    shutil.rmtree(ctx.out / CHECKPOINTS, ignore_errors=True)
    curve = loss_curve(log)
    tokens = int(trainer.state.num_input_tokens_seen)
    summary = {
        "parameters": sum(p.numel() for p in trainer.model.parameters()), "vocab": len(tokenizer),
        "steps": trainer.state.global_step, "train_examples": len(traces), "excluded_prompts": len(excluded),
        "train_tokens": tokens, "train_seconds": round(wall_s, 1), "tokens_per_s": round(tokens / max(wall_s, 1e-9)),
        "first_loss": curve[0][1] if curve else None, "final_loss": curve[-1][1] if curve else None,
    }
    held_out = eval_rows(prompts_dir)[:cfg.probe_prompts]
    if held_out:
        summary["probe"] = probe(trainer.model, tokenizer, held_out, cfg)
    ctx.log(json.dumps(summary))
    return summary
