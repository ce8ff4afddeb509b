"""Recipe sections owned by eval/: `verification` and `eval` (tasks and gates)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from core.schema_base import Strict


class VerificationConfig(Strict):
    format: bool = Field(True, description="require exactly one <think>...</think> followed by an answer")
    language_threshold: float | None = Field(
        None, ge=0, le=1, description="min share of reasoning in the prompt's script; null = off"
    )
    math_timeout_s: float = Field(5.0, gt=0)
    code_timeout_s: float = Field(10.0, gt=0)
    code_memory_mb: int = Field(1024, gt=0)
    workers: int = Field(2, gt=0)


class Gate(Strict):
    """Rules a student must pass to ship, e.g. `heldout.acc >= 0.3`, `heldout.tokens <= 0.6 * baseline.heldout.tokens`."""

    students: list[str] | Literal["*"] = "*"
    baseline: str | None = Field(None, description="student the `baseline.` terms refer to")
    rules: list[str] = Field(min_length=1)


class EvalConfig(Strict):
    backend: Literal["hf", "vllm", "local-completions", "local-chat-completions"] = "hf"
    tasks: list[str] = Field(min_length=1, description="eval set names from prompts.eval_sets, or tasks in eval/tasks")
    k: int = Field(4, gt=0, description="samples per prompt, averaged for pass@1")
    temperature: float = Field(0.6, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_gen_toks: int = Field(32768, gt=0, description="lm-eval's default 256 is far too small for reasoning")
    batch_size: int = Field(16, gt=0)
    limit: int | None = Field(None, gt=0, description="prompts per task (debugging only)")
    include_teacher: bool = True
    base_url: str | None = None
    seed: int = 0
    budgets: list[int] | None = Field(
        None, description="max_gen_toks budgets for the report's accuracy-by-budget table, read from the saved "
                          "samples (no new generation); null = 1/4, 1/2, 3/4 and all of max_gen_toks")
    gates: list[Gate] = Field(default_factory=list)
    # --- at size (vllm backend; lm-eval's own argument names) ---
    tensor_parallel_size: int = Field(1, gt=0, description="GPUs per model replica (vLLM tensor parallel): 32B "
                                      "at 32k tokens needs 2 H100s for KV cache, 70B in bf16 (141 GB) needs 4")
    data_parallel_size: int = Field(1, gt=0, description="model replicas, each on tensor_parallel_size GPUs "
                                    "(lm-eval's vLLM data parallel; runs through ray, in requirements-gpu.lock)")
    max_prompt_tokens: int = Field(2048, gt=0, description="longest rendered prompt expected; vLLM's "
                                   "max_model_len = this + max_gen_toks unless max_model_len is set")
    max_model_len: int | None = Field(None, gt=0, description="vLLM context length (default: max_prompt_tokens + "
                                      "max_gen_toks; the model's own default, 131k for Llama-3.1, wastes KV cache)")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="share of each GPU vLLM may take")
    enforce_eager: bool | None = Field(None, description="vLLM without CUDA graphs; default: eager on CPU only "
                                       "(CUDA graphs speed up decoding on GPU)")
    model_args: dict = Field(default_factory=dict, description="extra arguments for lm-eval's model class of "
                             "`backend` (for vllm also vLLM EngineArgs fields), checked by `factory validate`")

    @model_validator(mode="after")
    def _model_args_known(self):
        from eval.model_args import check_model_args

        problems = check_model_args(self.backend, self.model_args)
        if problems:
            raise ValueError("\n".join(problems))  # one line each (factory.recipe splits on newlines)
        return self

    @property
    def gpus(self) -> int:
        """GPUs one eval stage occupies (the estimate charges these, not the whole node)."""
        return self.tensor_parallel_size * self.data_parallel_size

    def vllm_max_model_len(self) -> int:
        return self.max_model_len or self.max_prompt_tokens + self.max_gen_toks

    @model_validator(mode="after")
    def _budgets_within_cap(self):
        for b in self.budgets or []:
            if not 0 < b <= self.max_gen_toks:
                raise ValueError(f"budgets: {b} must be in 1..max_gen_toks ({self.max_gen_toks}); the saved "
                                 "samples stop at max_gen_toks")
        return self
