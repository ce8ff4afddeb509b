"""Recipe section `students`: a list of jobs, one pydantic class per kind.

Adding a job kind is local: a class here with `kind: Literal[...]`, a member of `StudentJob`, and
an entry in factory.stages.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from factory.schema_base import Strict, check_slug
from teachers.config import BootstrapConfig, TinyModel


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


class JobBase(Strict):
    name: str
    init: ModelRef
    launch: Literal["single", "ddp", "zero2", "zero3", "fsdp"] = "single"
    num_processes: int = Field(1, gt=0)
    seed: int = 0
    learning_rate: float = Field(1e-4, gt=0)
    batch_size: int = Field(8, gt=0)
    grad_accum: int = Field(1, gt=0)
    max_steps: int = Field(-1, ge=-1, description="-1: train for `epochs`")
    epochs: float = Field(1.0, gt=0)
    bf16: bool = False
    liger: bool = False
    save_steps: int = Field(100, gt=0, description="checkpoint every N optimizer steps (resume after a kill)")
    max_grad_norm: float = Field(1.0, gt=0, description="gradient clipping (transformers' default 1.0; "
                                 "open-r1 distill: 0.2)")
    gradient_checkpointing: bool = Field(False, description="recompute activations in the backward pass (long traces)")
    # --- long sequences at size (students/loading.py, students/parallel.py, factory/memory.py) ---
    attn_implementation: Literal["auto", "flash_attention_2", "sdpa", "eager"] = Field(
        "auto", description="transformers attention kernel; auto: flash_attention_2 on CUDA with flash-attn "
        "installed, else sdpa")
    sequence_parallel_size: int = Field(
        1, gt=0, description="GPUs that split one sequence (DeepSpeed Ulysses through accelerate's "
        "ParallelismConfig sp_size): activations per GPU / N; needs launch zero2 or zero3")

    @model_validator(mode="after")
    def _slug(self):
        check_slug(self.name, "student name")
        return self

    @model_validator(mode="after")
    def _sequence_parallel(self):
        sp = self.sequence_parallel_size
        if sp > 1 and getattr(self, "kind", None) != "sft":
            raise ValueError(f"sequence_parallel_size {sp}: only sft jobs (transformers' Trainer computes the LM loss "
                             "across the sequence-parallel group; TRL's DPO/GRPO losses do not)")
        if sp > 1 and self.launch not in ("zero2", "zero3"):
            raise ValueError(f"sequence_parallel_size {sp} needs launch zero2 or zero3 (DeepSpeed Ulysses), "
                             f"not '{self.launch}'")
        if sp > 1 and self.num_processes % sp:
            raise ValueError(f"num_processes {self.num_processes} must be a multiple of sequence_parallel_size {sp}")
        return self

    def upstream_students(self) -> list[str]:
        return [self.init.student] if self.init.student else []


def _token_budget():
    return Field(None, gt=0, description="stop once this many tokens went through forward+backward (prompt + "
                 "completion; for GRPO the sampled completions): equal budgets make SFT and RL comparable "
                 "(R1 sec. 4.1); the learning-rate schedule still follows max_steps / epochs")


class SFTJob(JobBase):
    kind: Literal["sft"]
    data: Literal["sft", "shortest"] = "sft"
    token_budget: int | None = _token_budget()
    max_length: int = Field(2048, gt=0)
    packing: bool = False
    scheduler: str = "cosine"
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    min_lr_ratio: float | None = Field(
        None, ge=0, lt=1, description="floor of the cosine schedule as a share of the peak lr "
        "(scheduler cosine_with_min_lr; open-r1 distill: 0.1); null = decay to 0")
    rope_theta: float | None = Field(
        None, gt=0, description="override the base model's RoPE theta before training, to fit traces longer than "
        "its native context (Qwen2.5-Math-1.5B/7B: 4k native; open-r1 raises theta to 300k for 32k traces)")
    max_position_embeddings: int | None = Field(
        None, gt=0, description="override the base model's context length together with rope_theta")


class DPOJob(JobBase):
    kind: Literal["dpo"]
    data: Literal["pairs"] = "pairs"
    pair_kinds: list[Literal["kimi", "flash"]] = Field(default_factory=lambda: ["kimi", "flash"], min_length=1)
    loss: Literal["sigmoid", "simpo"] = "sigmoid"
    beta: float = Field(0.1, gt=0)
    simpo_gamma: float = Field(0.5, ge=0)
    sft_weight: float = Field(0.0, ge=0, description="weight of an NLL (SFT) loss on the chosen answer added to "
                              "the preference loss (RPO, Pang et al. 2024; CPO's cpo_alpha for SimPO): keeps a small "
                              "model from lowering the chosen answer's probability with the rejected one's")
    max_length: int = Field(2048, gt=0)


class MergeJob(JobBase):
    """Kimi model merging: average a long-CoT and a short-CoT model, sweeping the weight."""

    kind: Literal["merge"]
    init: ModelRef | None = None
    models: list[str] = Field(min_length=2, max_length=2, description="[long student, short student]")
    method: Literal["linear", "ties", "dare_ties", "slerp"] = "linear"
    weights: list[float] = Field(default_factory=lambda: [0.5], min_length=1, description="weight of the long model")
    density: float = Field(0.5, gt=0, le=1)

    @model_validator(mode="after")
    def _weights_range(self):
        bad = [w for w in self.weights if not 0.0 <= w <= 1.0]
        if bad:
            raise ValueError(f"weights must lie in [0, 1] (got {bad})")
        return self

    def upstream_students(self) -> list[str]:
        return list(self.models)


class Reward(Strict):
    name: Literal["accuracy", "format", "language", "kimi_length", "target_length", "token_limit"]
    weight: float = 1.0


class GRPOJob(JobBase):
    kind: Literal["grpo"]
    data: Literal["rl_pool"] = "rl_pool"
    token_budget: int | None = _token_budget()
    rewards: list[Reward] = Field(default_factory=lambda: [Reward(name="accuracy"), Reward(name="format")])
    num_generations: int = Field(8, gt=1)
    max_completion_length: int = Field(512, gt=0)
    temperature: float = Field(1.0, gt=0)
    length_warmup_steps: int = Field(0, ge=0, description="steps before the length reward turns on (Kimi)")
    target_length: int | None = Field(None, gt=0, description="L1/LCPO target tokens")
    token_limit: int | None = Field(None, gt=0, description="ThinkPrune limit")
    r1_zero: bool = Field(False, description="RL straight from a base model with a minimal prompt")
    kl_beta: float = Field(0.0, ge=0, description="KL penalty to the init model (TRL's beta; 0 = none, as in "
                           "DAPO/Dr. GRPO); > 0 loads a reference model and holds a small student near its init")
    trl: dict[str, Any] = Field(
        default_factory=dict, description="GRPOConfig fields passed through, e.g. use_vllm, vllm_mode (colocate | "
        "server), vllm_gpu_memory_utilization, vllm_max_model_length, vllm_enable_sleep_mode")


StudentJob = Annotated[Union[SFTJob, DPOJob, MergeJob, GRPOJob], Field(discriminator="kind")]
