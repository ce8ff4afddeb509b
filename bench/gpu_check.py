"""One check a GPU node runs in under 8 minutes: does training at 32k tokens fit and run as the estimate says?

    python bench/gpu_check.py                 # GPU: a random Qwen2.5-1.5B-shaped model, 32k tokens
    python bench/gpu_check.py --smoke         # CPU, tiny shape, seconds: the script itself is not broken
    python bench/gpu_check.py --out gpu_check.json

1. SFT steps (AdamW, gradient checkpointing, bf16 weights as DeepSpeed's bf16 mode computes) at batch 1 ×
   32,768 tokens, with the loss computed in checkpointed chunks of the LM head the way TRL 1.16's fused LM head
   does (no full logits). Reports peak memory, tokens/s and MFU (6·N FLOPs per token, and with causal
   attention's 6·L·h·s FLOPs per token added) beside what `factory plan --estimate` predicts: factory/memory.py's
   activations (the uncalibrated part) plus this run's own states (torch AdamW keeps bf16 states for bf16
   weights: 2 + 2 + 4 bytes/param here, where DeepSpeed's fp32 master copy makes the paper's 16), and
   factory.estimate.DEFAULT_MFU for speed.
2. Rollouts: output tokens/s of transformers `generate` and, where vLLM is installed, of vLLM on the same
   random model (both forced to the full length with ignore-EOS) — the gap GRPO loses without vLLM.
Needs only torch and transformers (what the lent GPU machine has); never part of the test suite on a GPU.
Record the printed figures in docs/benchmarks.md and calibrate factory/memory.py's constants with them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factory import memory  # noqa: E402 - dependency-free on purpose

QWEN_1_5B = memory.ModelShape(hidden=1536, layers=28, heads=12, kv_heads=2, intermediate=8960, vocab=151936)
TINY = memory.ModelShape(hidden=64, layers=2, heads=2, kv_heads=1, intermediate=128, vocab=512)
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense bf16 datasheet FLOP/s (factory/hardware.py)
PREDICTED_MFU = 0.35  # factory.estimate.DEFAULT_MFU


def _g(x: float) -> float:
    return float(f"{x:.4g}")


def build_model(shape: memory.ModelShape, device: str):
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    cfg = Qwen2Config(hidden_size=shape.hidden, num_hidden_layers=shape.layers, num_attention_heads=shape.heads,
                      num_key_value_heads=shape.kv_heads, intermediate_size=shape.intermediate,
                      vocab_size=shape.vocab, max_position_embeddings=65536, tie_word_embeddings=True,
                      attn_implementation="sdpa")
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16 if device == "cuda" else torch.float32)
    return model


def chunked_loss(model, input_ids, chunk: int = 4096):
    """Next-token loss with the LM head applied in checkpointed chunks: the (tokens × vocab) logits never exist
    at once, as with TRL's fused LM head (trl.trainer.utils.add_fused_lm_head)."""
    import torch
    from torch.utils.checkpoint import checkpoint

    hidden = model.model(input_ids=input_ids).last_hidden_state[:, :-1]
    labels = input_ids[:, 1:]

    def piece(h, y):
        return torch.nn.functional.cross_entropy(model.lm_head(h).float().flatten(0, 1), y.flatten(), reduction="sum")

    total = sum(checkpoint(piece, hidden[:, i:i + chunk], labels[:, i:i + chunk], use_reentrant=False)
                for i in range(0, hidden.shape[1], chunk))
    return total / labels.numel()


def train_check(shape: memory.ModelShape, seq: int, steps: int, device: str) -> dict:
    import torch

    cuda = device == "cuda"
    model = build_model(shape, device)
    model.gradient_checkpointing_enable()
    model.config.use_cache = False
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=cuda)
    ids = torch.randint(0, shape.vocab, (1, seq), device=device)

    def step():
        loss = chunked_loss(model, ids, chunk=min(4096, seq))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    step()  # warm-up: allocates the optimizer states and the kernels
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    losses = [step() for _ in range(steps)]
    if cuda:
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    tokens_s = seq * steps / wall
    state_bytes = 8 if cuda else 16  # bf16 weight + grad + 2 AdamW moments; fp32 on CPU
    predicted = {"states": state_bytes * params / memory.GIB,
                 "activations": memory.activations_gib(shape, seq, checkpointing=True)}
    peak_flops = next((v for k, v in PEAK_BF16.items() if cuda and k in torch.cuda.get_device_name()), None)
    flops_6n = 6 * params * tokens_s
    flops_attn = flops_6n + 6 * shape.layers * shape.hidden * seq * tokens_s  # causal: half of 12·L·h·s
    out = {"params": params, "seq": seq, "steps": steps, "loss": round(losses[-1], 3),
           "tokens_per_s": round(tokens_s, 1), "step_s": round(wall / steps, 3),
           "predicted_peak_gib": _g(sum(predicted.values())),  # without factory.memory.OVERHEAD_GIB
           "predicted_parts_gib": {k: _g(v) for k, v in predicted.items()}}
    if cuda:
        out["peak_allocated_gib"] = _g(torch.cuda.max_memory_allocated() / memory.GIB)
        out["peak_reserved_gib"] = _g(torch.cuda.max_memory_reserved() / memory.GIB)
        out["device"] = torch.cuda.get_device_name()
    if peak_flops:
        out |= {"mfu_6n": round(flops_6n / peak_flops, 3), "mfu_with_attention": round(flops_attn / peak_flops, 3),
                "predicted_mfu": PREDICTED_MFU,
                "predicted_tokens_per_s": round(PREDICTED_MFU * peak_flops / (6 * params), 1)}
    del model, opt
    if cuda:
        torch.cuda.empty_cache()
    return out


def generate_check(shape: memory.ModelShape, device: str, prompts: int, prompt_len: int, new: int) -> dict:
    import torch

    model = build_model(shape, device).to(torch.bfloat16 if device == "cuda" else torch.float32).eval()
    ids = torch.randint(0, shape.vocab, (prompts, prompt_len), device=device)
    kw = dict(max_new_tokens=new, min_new_tokens=new, do_sample=True, temperature=1.0, pad_token_id=0)
    model.generate(ids[:1], max_new_tokens=2, min_new_tokens=2, do_sample=True, pad_token_id=0)  # warm-up
    t0 = time.perf_counter()
    with torch.no_grad():
        model.generate(ids, **kw)
    if device == "cuda":
        torch.cuda.synchronize()
    result = {"prompts": prompts, "new_tokens": new, "hf_generate_tokens_per_s": round(
        prompts * new / (time.perf_counter() - t0), 1)}
    if device == "cuda":
        result |= vllm_check(model, ids, new)
    return result


def vllm_check(model, ids, new: int) -> dict:
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        return {"vllm": "not installed"}
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        llm = LLM(folder, skip_tokenizer_init=True, dtype="bfloat16", gpu_memory_utilization=0.5,
                  max_model_len=ids.shape[1] + new + 16)
        params = SamplingParams(max_tokens=new, min_tokens=new, ignore_eos=True, temperature=1.0,
                                detokenize=False)
        prompts = [{"prompt_token_ids": row.tolist()} for row in ids]
        llm.generate(prompts[:1], params)  # warm-up
        t0 = time.perf_counter()
        llm.generate(prompts, params)
        return {"vllm_tokens_per_s": round(len(prompts) * new / (time.perf_counter() - t0), 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny shape on CPU in seconds (checks the script)")
    parser.add_argument("--seq", type=int, default=None, help="training tokens per step (default 32768)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    import torch

    device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    if device == "cpu" and not args.smoke:
        parser.error("no CUDA device: run with --smoke on a CPU machine")
    shape, seq = (TINY, args.seq or 256) if args.smoke else (QWEN_1_5B, args.seq or 32768)
    report = {"train": train_check(shape, seq, steps=2 if args.smoke else 3, device=device),
              "rollouts": generate_check(shape, device, prompts=4 if args.smoke else 32,
                                         prompt_len=16 if args.smoke else 256, new=8 if args.smoke else 512)}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
