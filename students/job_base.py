"""What every student job shares: where its weights start (`init`), its name, and the `trl:` pass-through.

A kind module (students/sft.py, dpo.py, ...) subclasses `TrainJob` and names the TRL config class its
trainer takes in `TRL_CONFIG`; `trl:` then accepts any field of that class, checked against
`dataclasses.fields` (students/trl_fields.py; one line per unknown key, with the closest valid name). The rule for where a
field lives is in students/config.py's docstring.
"""

from __future__ import annotations

import difflib
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from core.schema_base import Strict, check_slug
from students import trl_fields
from teachers.config import BootstrapConfig, TinyModel

# Trainer arguments the factory sets itself (artifact layout, resume, token counting, logs, tracking);
# a `trl:` block may not name them. `report_to` comes from the recipe's `tracking:` block.
MANAGED = {"output_dir": "the stage folder", "report_to": "the recipe's `tracking:` block",
           "save_strategy": "checkpoints for resume", "save_total_limit": "checkpoints for resume",
           "include_num_input_tokens_seen": "token_budget", "use_cpu": "the machine", "ddp_backend": "`launch`",
           "disable_tqdm": "the run display", "logging_dir": "the recipe's `tracking:` block",
           "parallelism_config": "the job's `sequence_parallel_size`",
           "model_init_kwargs": "the factory loads the model (students/loading.py): `attn_implementation`, trl.bf16"}


class ModelRef(Strict):
    """Where a job's starting weights come from: exactly one field."""

    student: str | None = Field(None, description="name of another student job")
    teacher: bool = Field(False, description="start from the teacher")
    path: str | None = None
    hub: str | None = None
    tiny: TinyModel | None = Field(None, description="random-init model with the teacher's tokenizer")
    bootstrap: BootstrapConfig | None = Field(
        None, description="a small *pretrained* base made offline like the micro teacher (fewer steps, smaller "
        "model): the stand-in for a real base model when comparing distillation with RL (micro recipe)")

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("student", "path", "hub", "tiny", "bootstrap") if getattr(self, k) is not None]
        if self.teacher:
            given.append("teacher")
        if len(given) != 1:
            raise ValueError(f"give exactly one of student, teacher, path, hub, tiny, bootstrap (got {given or 'none'})")
        return self


class Job(Strict):
    """Any student job: a name the graph and gates use."""

    name: str

    @model_validator(mode="after")
    def _slug(self):
        check_slug(self.name, "student name")
        return self

    def upstream_students(self) -> list[str]:
        init = getattr(self, "init", None)
        return [init.student] if init is not None and init.student else []


# Fields of the schema before the `trl:` pass-through: where they went (a one-line hint for an old recipe).
MOVED = {"batch_size": "per_device_train_batch_size", "grad_accum": "gradient_accumulation_steps",
         "epochs": "num_train_epochs", "kl_beta": "trl: {beta: ...}", "warmup_ratio": "trl: {warmup_steps: ...}",
         "scheduler": "trl: {lr_scheduler_type: ...}", "liger": "trl: {use_liger_kernel: ...}",
         "min_lr_ratio": "trl: {lr_scheduler_type: cosine_with_min_lr, lr_scheduler_kwargs: {min_lr_rate: ...}}",
         "sft_weight": "trl: {loss_type: [sigmoid, sft], loss_weights: [1.0, w]} (dpo) or trl: {cpo_alpha: w} (simpo)",
         "loss": "kind: simpo for SimPO; trl: {loss_type: ...} for DPO's losses",
         **{k: f"trl: {{{k}: ...}}" for k in ("save_steps", "bf16", "max_grad_norm", "gradient_checkpointing",
                                             "packing", "temperature", "beta", "simpo_gamma")}}


class TrainJob(Job):
    """A job trained with a TRL trainer. Top level: factory concepts plus the fields the factory reads itself
    to plan and check a run (under TRL's names); `trl:` everything else the trainer's config class has."""

    TRL_CONFIG: ClassVar[str] = ""  # "module:Class" of the TRL config, e.g. "trl:SFTConfig"

    init: ModelRef
    launch: Literal["single", "ddp", "zero2", "zero3", "fsdp"] = "single"
    num_processes: int = Field(1, gt=0)
    seed: int = Field(0, description="TrainingArguments.seed; also seeds a `tiny` init")
    learning_rate: float = Field(1e-4, gt=0)
    per_device_train_batch_size: int = Field(8, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    max_steps: int = Field(-1, ge=-1, description="-1: train for `num_train_epochs`")
    num_train_epochs: float = Field(1.0, gt=0)
    # --- long sequences at size (students/loading.py, students/scale.py, factory/memory.py) ---
    attn_implementation: Literal["auto", "flash_attention_2", "sdpa", "eager"] = Field(
        "auto", description="transformers attention kernel; auto: flash_attention_2 on CUDA with flash-attn "
        "installed, else sdpa")
    sequence_parallel_size: int = Field(
        1, gt=0, description="GPUs that split one sequence (DeepSpeed Ulysses through accelerate's "
        "ParallelismConfig sp_size): activations per GPU / N; needs launch zero2 or zero3")
    trl: dict[str, Any] = Field(default_factory=dict, description="any other field of the kind's TRL config class")

    @model_validator(mode="before")
    @classmethod
    def _moved_fields(cls, data):
        if isinstance(data, dict):
            moved = [f"{k}: now {MOVED[k]}" for k in data if k in MOVED and k not in cls.model_fields]
            if moved:
                raise ValueError("\n".join(moved))
        return data

    @model_validator(mode="after")
    def _trl_keys(self):
        if not self.trl:
            return self
        problems = []
        top = set(type(self).model_fields) - {"trl"}
        valid = trl_fields.fields(self.TRL_CONFIG)
        for key in self.trl:
            if key in MANAGED:
                problems.append(f"trl.{key}: set by the factory ({MANAGED[key]})")
            elif key in top:
                problems.append(f"trl.{key}: set it once, as the job's top-level `{key}`")
            elif key not in valid:
                close = difflib.get_close_matches(key, sorted(valid), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append(f"trl.{key}: not a field of {self.TRL_CONFIG.split(':')[1]}{hint}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _sequence_parallel(self):
        sp = self.sequence_parallel_size
        if sp > 1 and getattr(self, "kind", None) != "sft":
            raise ValueError(f"sequence_parallel_size {sp}: only sft jobs (transformers' Trainer computes the LM loss "
                             "across the sequence-parallel group; TRL's preference/GRPO losses do not)")
        if sp > 1 and self.launch not in ("zero2", "zero3"):
            raise ValueError(f"sequence_parallel_size {sp} needs launch zero2 or zero3 (DeepSpeed Ulysses), "
                             f"not '{self.launch}'")
        if sp > 1 and self.num_processes % sp:
            raise ValueError(f"num_processes {self.num_processes} must be a multiple of sequence_parallel_size {sp}")
        return self

    @property
    def global_batch(self) -> int:
        """Sequences per optimizer step: a sequence-parallel group of GPUs trains one micro-batch together."""
        return (self.per_device_train_batch_size * self.gradient_accumulation_steps * self.num_processes
                // self.sequence_parallel_size)

    def trl_value(self, key: str, default: Any = None) -> Any:
        """A TRL config field as the trainer will see it: the job's `trl:` block, else the kind's and the
        factory's defaults (students/common.py FACTORY_DEFAULTS, the kind module's DEFAULTS), else `default`."""
        if key in self.trl:
            return self.trl[key]
        from students import common, kinds

        kind_defaults = getattr(kinds.module(self.kind), "DEFAULTS", {}) if getattr(self, "kind", None) else {}
        return kind_defaults.get(key, common.FACTORY_DEFAULTS.get(key, default))


def token_budget():
    return Field(None, gt=0, description="stop once this many tokens went through forward+backward (prompt + "
                 "completion; for GRPO the sampled completions): equal budgets make SFT and RL comparable "
                 "(R1 sec. 4.1); the learning-rate schedule still follows max_steps / num_train_epochs")


# ---------------------------------------------------------------- graph wiring shared by trained kinds
POOL_DATA_HELP = ("rl_pool: the teacher-scored pool (pass-rate window, curriculum); prompts: every raw train prompt, "
                  "no teacher (R1-Zero), so the stage need not wait for the teacher's samples")


def pool_role(job) -> str:
    """The input an RL / on-policy job reads its prompts from: the datasets stage, or the prompts stage."""
    return "prompts" if job.data == "prompts" else "data"


def train_stages(job, wiring, roles: tuple[str, ...] = ("data",)) -> list[tuple[str, dict, dict]]:
    """One stage `student.<name>`: its init input plus the named roles (`data` = the datasets stage)."""
    inputs = wiring.init(job)
    for role in roles:
        up = wiring.source(role)
        if up:
            inputs[role] = up
    return [(f"student.{job.name}", {}, inputs)]
