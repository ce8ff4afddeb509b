"""Peak memory per GPU of a stage: will the recipe fit on its GPUs? (`factory plan --estimate`)

All sizes in GiB (2^30 bytes); a GPU's `memory_gb` (factory/hardware.py) is its HBM in GiB (H100 80, H200 141).

Training, per GPU = model states + ZeRO-3 working set + activations + logits + overhead:
- **Model states** (ZeRO, Rajbhandari et al. 2020, sec. 3.1): mixed-precision AdamW keeps 2Ψ bytes of bf16
  weights, 2Ψ of bf16 gradients and 12Ψ of fp32 master weights, momentum and variance (K = 12). With N_d
  data-parallel GPUs: DDP 16Ψ; ZeRO-2 2Ψ + 14Ψ/N_d; ZeRO-3 and FSDP full shard 16Ψ/N_d.
- **ZeRO-3 working set:** the gathered bf16 parameters of the layer being computed and the one prefetched
  (2 layers), or the embedding matrix when that is larger.
- **Activations:** with gradient checkpointing (transformers checkpoints each decoder layer) every layer keeps
  its input, 2h bytes per token, and the layer recomputed in the backward pass holds all of its activations
  at once. Per token per layer, bf16, for a Llama/Qwen2 layer (RMSNorm, GQA attention, SwiGLU MLP) with flash
  attention or SDPA's memory-efficient kernel (no s² score matrix; Korthikanti et al. 2022 derive the
  GPT version of this count, 34·h + 5·a·s bytes, whose s² term flash attention removes):
      attention 2h (norm input) + 2h (q/k/v input) + 2h (q) + 4·kv·d (k, v) + 2h (output)  = 8h + 4·kv·d
      MLP       2h (norm input) + 2h (gate/up input) + 2i·3 (gate, up, silu) + 2i (down input) = 4h + 8i
  Without checkpointing every layer holds all of that. Sequence parallelism (DeepSpeed Ulysses) shards the
  sequence, so a GPU holds tokens / sp of it.
- **Logits:** TRL 1.16's SFT, DPO and GRPO trainers patch a fused LM head (`trl.trainer.utils.add_fused_lm_head`)
  that computes log-probs in tiles, so the (tokens × vocab) logits never exist: not counted; the
  DistillationTrainer projects student and teacher hidden states to logits a chunk at a time (chunked JSD):
  not counted either. SimPO (`trl.experimental.cpo.CPOTrainer`) and ORPO (`trl.experimental.orpo`) have no
  fused head and take the logits from the model's forward: tokens × vocab × 10 bytes (bf16 logits, their fp32
  up-cast, the fp32 gradient).
- **Overhead:** CUDA context, NCCL buffers, allocator fragmentation: OVERHEAD_GIB (assumed).
DPO, SimPO and ORPO run chosen and rejected in one forward (2 sequences per pair); DPO also holds the
frozen reference model's bf16 weights (partitioned like the policy under ZeRO-3), on-policy distillation the
teacher's, GRPO the reference only when `trl.beta` > 0 (GRPOConfig's default is 0). GRPO trains on prompt +
completion sequences and, with vLLM colocated, lends vLLM `vllm_gpu_memory_utilization` of each GPU; with
sleep mode vLLM gives that back while the trainer steps, so the peak is the larger of the two, else the sum.

Sampling (eval, teacher, rollouts), per GPU = bf16 weights / TP + KV cache + overhead, where the KV cache
is 2 (k and v) × layers × kv_heads × head_dim × 2 bytes per token (kv heads split over TP, at least one per
GPU), for `batch` sequences of `max_model_len` tokens. vLLM takes gpu_memory_utilization of the GPU up front;
fewer concurrent sequences than the batch only queue, fewer than one cannot run.

Not calibrated (no GPU was available when this was written; `bench/gpu_check.py` measures them): the
activation bytes per token (kernels differ: Liger's RMSNorm/SwiGLU store less), OVERHEAD_GIB, the ZeRO-3
working set (DeepSpeed's `stage3_max_live_parameters` can hold more), and the logits factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GIB = 2**30
OVERHEAD_GIB = 4.0  # CUDA context (~0.5), NCCL buffers, allocator fragmentation: assumed
LOGITS_BYTES = 10  # per token per vocab entry when the trainer materializes the logits (SimPO via CPOTrainer)
ADAM_STATE_BYTES = 12  # fp32 master weights + momentum + variance (ZeRO paper's K)
USABLE = 0.97  # share of HBM the driver and ECC leave to torch (H100 80 GiB -> ~79 GiB free at start)


@dataclass(frozen=True)
class ModelShape:
    """What the memory model needs beyond the parameter count (a model's config.json). Defined here, with no
    import of the recipe schema, so bench/gpu_check.py can use this module on a GPU node without pydantic."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


@dataclass
class Memory:
    """Peak memory of one GPU, by part (GiB), and what the GPU has."""

    parts: dict[str, float]
    capacity_gib: float
    notes: list[str] = field(default_factory=list)

    @property
    def peak_gib(self) -> float:
        return sum(self.parts.values())

    @property
    def fits(self) -> bool:
        return self.peak_gib <= self.capacity_gib

    def describe(self) -> str:
        big = sorted(self.parts.items(), key=lambda kv: -kv[1])[:3]
        return ", ".join(f"{k} {v:,.1f}" for k, v in big)


def capacity(memory_gb: float) -> float:
    return memory_gb * USABLE


# ------------------------------------------------------------------ training
def model_states_gib(params_b: float, launch: str, gpus: int) -> dict[str, float]:
    """Weights, gradients and AdamW states per GPU for a launch mode (ZeRO paper, 2 + 2 + 12 bytes/param)."""
    p = params_b * 1e9 / GIB
    shard = max(gpus, 1)
    if launch in ("zero3", "fsdp"):
        return {"weights": 2 * p / shard, "grads": 2 * p / shard, "optimizer": ADAM_STATE_BYTES * p / shard}
    if launch == "zero2":
        return {"weights": 2 * p, "grads": 2 * p / shard, "optimizer": ADAM_STATE_BYTES * p / shard}
    return {"weights": 2 * p, "grads": 2 * p, "optimizer": ADAM_STATE_BYTES * p}


def layer_params(s: ModelShape) -> float:
    """Parameters of one decoder layer: q, o (h·h each), k, v (h·kv·d each), gate/up/down (h·i each)."""
    return 2 * s.hidden * s.hidden + 2 * s.hidden * s.kv_heads * s.head_dim + 3 * s.hidden * s.intermediate


def zero3_working_gib(s: ModelShape) -> float:
    return max(2 * layer_params(s), s.vocab * s.hidden) * 2 / GIB


def layer_activation_bytes(s: ModelShape) -> float:
    """Bytes per token of one decoder layer's saved activations (bf16, flash/memory-efficient attention)."""
    return 12 * s.hidden + 4 * s.kv_heads * s.head_dim + 8 * s.intermediate


def activations_gib(s: ModelShape, tokens: float, checkpointing: bool, sp: int = 1) -> float:
    """Activations held at the peak of the backward pass for `tokens` tokens on one GPU (before SP)."""
    t = tokens / max(sp, 1)
    if checkpointing:
        return (s.layers * 2 * s.hidden * t + layer_activation_bytes(s) * t) / GIB
    return s.layers * layer_activation_bytes(s) * t / GIB


def logits_gib(s: ModelShape, tokens: float, fused_head: bool, sp: int = 1) -> float:
    return 0.0 if fused_head else tokens / max(sp, 1) * s.vocab * LOGITS_BYTES / GIB


def training(shape: ModelShape, params_b: float, *, launch: str, gpus: int, seq: int, micro_batch: int,
             checkpointing: bool, memory_gb: float, sp: int = 1, sequences_per_example: int = 1,
             reference: bool = False, fused_head: bool = True) -> Memory:
    """Peak GiB per GPU of one training step (see the module docstring for every term)."""
    tokens = seq * micro_batch * sequences_per_example
    parts = model_states_gib(params_b, launch, gpus)
    if launch == "zero3":
        parts["zero3 gather"] = zero3_working_gib(shape)
    parts["activations"] = activations_gib(shape, tokens, checkpointing, sp)
    parts["logits"] = logits_gib(shape, tokens, fused_head, sp)
    if reference:  # frozen bf16 copy, sharded like the policy under ZeRO-3 / FSDP
        parts["reference"] = 2 * params_b * 1e9 / GIB / (gpus if launch in ("zero3", "fsdp") else 1)
    parts["overhead"] = OVERHEAD_GIB
    return Memory(parts, capacity(memory_gb))


# ------------------------------------------------------------------ sampling
def kv_bytes_per_token(s: ModelShape, tp: int = 1) -> float:
    """bf16 K and V of every layer for one token, on one of `tp` tensor-parallel GPUs."""
    kv_per_gpu = max(1.0, s.kv_heads / max(tp, 1))
    return 2 * s.layers * kv_per_gpu * s.head_dim * 2


def sampling(shape: ModelShape, params_b: float, *, tp: int, max_model_len: int, batch: int,
             memory_gb: float, utilization: float = 0.9) -> Memory:
    """vLLM serving one model on tp GPUs: weights + KV cache for `batch` full-length sequences."""
    weights = 2 * params_b * 1e9 / GIB / max(tp, 1)
    per_seq = kv_bytes_per_token(shape, tp) * max_model_len / GIB
    budget = capacity(memory_gb) * utilization
    room = budget - weights - OVERHEAD_GIB
    fit = int(room // per_seq) if per_seq > 0 else batch
    parts = {"weights": weights, "kv cache": per_seq * min(batch, max(fit, 1)), "overhead": OVERHEAD_GIB}
    mem = Memory(parts, budget)
    if fit < 1:
        mem.parts["kv cache"] = per_seq  # one sequence is the least vLLM needs; it does not fit
        mem.notes.append(f"one {max_model_len:,}-token sequence needs {per_seq:,.1f} GiB of KV cache: raise "
                         "tensor_parallel_size or lower max_model_len")
    elif fit < batch:
        mem.notes.append(f"KV cache holds {fit} of {batch} sequences at {max_model_len:,} tokens (the rest queue)")
    return mem


# ------------------------------------------------------------------ recipe stages
def student(job, shape: ModelShape, params_b: float, memory_gb: float, prompt_tokens: float,
            teacher_params_b: float = 0.0) -> Memory:
    """A student job's training peak (SFT; DPO / SimPO / ORPO pairs; GRPO with its colocated vLLM share;
    on-policy distillation with the frozen teacher). TRL fields come from the job's `trl:` block or the
    factory's defaults (`job.trl_value`)."""
    kind = job.kind
    common = dict(launch=job.launch, gpus=job.num_processes, micro_batch=job.per_device_train_batch_size,
                  checkpointing=bool(job.trl_value("gradient_checkpointing", False)), memory_gb=memory_gb,
                  sp=job.sequence_parallel_size)
    if kind == "sft":
        return training(shape, params_b, seq=job.max_length, **common)
    if kind in ("dpo", "simpo", "orpo"):  # CPOTrainer / ORPOTrainer (trl.experimental) have no fused LM head
        return training(shape, params_b, seq=job.max_length, sequences_per_example=2,
                        reference=kind == "dpo", fused_head=kind == "dpo", **common)
    seq = int(prompt_tokens + job.max_completion_length)
    if kind == "distill":  # the teacher's frozen bf16 weights, sharded like the student's under ZeRO-3 / FSDP
        mem = training(shape, params_b, seq=seq, **common)
        shard = job.num_processes if job.launch in ("zero3", "fsdp") else 1
        mem.parts["teacher"] = 2 * teacher_params_b * 1e9 / GIB / shard
        return mem
    mem = training(shape, params_b, seq=seq, reference=job.trl_value("beta", 0.0) > 0, **common)  # GRPOConfig beta 0.0
    trl = job.trl
    if trl.get("use_vllm", True) and trl.get("vllm_mode", "colocate") == "colocate":
        share = capacity(memory_gb) * trl.get("vllm_gpu_memory_utilization", 0.3)  # TRL's default 0.3
        if trl.get("vllm_enable_sleep_mode"):
            mem.notes.append(f"vLLM sleeps during steps (its {share:,.0f} GiB share is freed)")
            share = max(0.0, share - mem.peak_gib)
        mem.parts["vllm (colocated)"] = share
    return mem


def eval_stage(eval_cfg, shape: ModelShape, params_b: float, memory_gb: float) -> Memory:
    """One vLLM replica of an eval stage (tensor_parallel_size GPUs)."""
    return sampling(shape, params_b, tp=eval_cfg.tensor_parallel_size, max_model_len=eval_cfg.vllm_max_model_len(),
                    batch=eval_cfg.batch_size, memory_gb=memory_gb, utilization=eval_cfg.gpu_memory_utilization)
