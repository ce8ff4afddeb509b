"""Recipe section `hardware`: the machines a recipe targets, and what is known about each kind of GPU.

    hardware:
      gpu: h100            # h100 | h200 | a100 | cpu
      gpus_per_node: 8
      nodes: 2
      generation_tokens_per_s: 1800   # optional: your measured teacher output tokens/s per GPU

Only `factory plan --estimate` (factory/estimate.py) reads this section; nothing is launched from it.
The `*_tokens_per_s` and `mfu` fields replace the estimator's defaults with numbers measured on your
cluster; leave them out to use the published figures in factory/estimate.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from core.schema_base import Strict


@dataclass(frozen=True)
class GPUSpec:
    """Public datasheet numbers for one accelerator kind (dense bf16, no sparsity)."""

    peak_flops: float  # FLOP/s
    memory_gb: float
    mem_bandwidth_tb_s: float
    decode_factor: float  # decode (memory-bound) speed relative to an H100 SXM


GPUS: dict[str, GPUSpec] = {
    # NVIDIA H100 SXM5 datasheet: 989 TFLOP/s dense BF16, 80 GB HBM3 at 3.35 TB/s.
    "h100": GPUSpec(989e12, 80, 3.35, 1.0),
    # NVIDIA H200 SXM datasheet: same compute die as H100 (989 TFLOP/s), 141 GB HBM3e at 4.8 TB/s;
    # decoding is memory-bound, so ~4.8 / 3.35 = 1.4x an H100 per GPU.
    "h200": GPUSpec(989e12, 141, 4.8, 1.4),
    # NVIDIA A100 SXM 80 GB datasheet: 312 TFLOP/s dense BF16, 2.0 TB/s. Lambda's public vLLM
    # benchmark (LambdaLabsML/vllm-benchmark) found H100 ~2x A100 throughput; we use 0.55.
    "a100": GPUSpec(312e12, 80, 2.0, 0.55),
    # The 2-core CPU of DESIGN.md's compute budget table: "SmolLM2-135M fp32 fwd+bwd+AdamW ~140 tokens/s
    # (≈115 GFLOP/s)" and a 5.2M Qwen2-shaped model at ~3,500 tokens/s (= 6 · 5.2M · 3,500 ≈ 110 GFLOP/s).
    # `peak_flops` here is that *measured* rate, so the CPU MFU is 1.0.
    "cpu": GPUSpec(115e9, 8, 0.0, 0.0),
}


class HardwareConfig(Strict):
    """Where the recipe is meant to run; read only by the resource estimate (`factory plan --estimate`)."""

    gpu: Literal["h100", "h200", "a100", "cpu"] = Field("h100", description="accelerator kind (cpu: the micro recipe)")
    gpus_per_node: int = Field(8, gt=0, description="accelerators per node (cpu: 1)")
    nodes: int = Field(1, gt=0, description="nodes available to the recipe (generation spreads over all of them)")
    mfu: float | None = Field(None, gt=0, le=1, description="model FLOPs utilization for training "
                              "(default 0.35 on GPUs; 1.0 on cpu, whose peak is already a measured rate)")
    generation_tokens_per_s: float | None = Field(
        None, gt=0, description="measured teacher output tokens/s per GPU (overrides the table in factory/estimate.py)")
    eval_tokens_per_s: float | None = Field(
        None, gt=0, description="measured student sampling tokens/s per GPU during eval and GRPO rollouts")
    train_tokens_per_s: float | None = Field(
        None, gt=0, description="measured training tokens/s per GPU (overrides 6·N·tokens / (peak·MFU))")
    api_tokens_per_s_per_request: float = Field(
        25.0, gt=0, description="decode speed of one request on an OpenAI-compatible endpoint "
        "(teacher.backend openai; assumed 25 for DeepSeek-R1); wall time = tokens / (this · teacher.max_concurrency)")
    mean_completion_fraction: float | None = Field(
        None, gt=0, le=1, description="expected mean completion length as a share of max_tokens (default 0.25)")
    pass_rate: float | None = Field(
        None, gt=0, le=1, description="expected share of teacher samples verified correct (default 0.6)")
    model_params: dict[str, float] = Field(
        default_factory=dict, description="parameter counts in billions for model ids the estimator does not know, "
        "e.g. {my-org/my-base: 3.2}")

    @property
    def spec(self) -> GPUSpec:
        return GPUS[self.gpu]

    @property
    def total_gpus(self) -> int:
        return self.gpus_per_node * self.nodes
