"""Tiny random models wearing real model families' tokenizer configs (tests/fixtures/families/<family>/).

A real tokenizer.json is 7-17 MB, so each fixture keeps the family's real chat template and special
tokens (see its SOURCE.md) and this module attaches them to a small locally trained BPE: the special
tokens come first, in the family's own order, then a few hundred ordinary tokens. The model is a
random-init Llama-shaped network whose config carries the family's own bos/eos/pad, as a downloaded
base would.
"""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "families"
FAMILIES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
NOT_SPECIAL = {"<think>", "</think>"}  # ordinary added tokens in the real configs (kept by decode)


def _content(value):
    return value.get("content") if isinstance(value, dict) else value


def fixture_config(family: str) -> dict:
    """{added: [...], bos, eos, pad, template} for one family fixture."""
    folder = FIXTURES / family
    cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    if "added_tokens_decoder" in cfg:
        added = [v["content"] for _, v in sorted(cfg["added_tokens_decoder"].items(), key=lambda kv: int(kv[0]))]
    elif (folder / "added_tokens.json").exists():
        added = json.loads((folder / "added_tokens.json").read_text(encoding="utf-8"))["added_tokens"]
    else:
        added = cfg["added_tokens"]
    template_file = folder / "chat_template.jinja"
    template = template_file.read_text(encoding="utf-8") if template_file.exists() else cfg.get("chat_template")
    return {"added": added, "bos": _content(cfg.get("bos_token")), "eos": _content(cfg.get("eos_token")),
            "pad": _content(cfg.get("pad_token")), "template": template}


def corpus() -> list[str]:
    texts = [f"What is {a} + {b}? {a} + {b} = {a + b}. So the answer is {a + b}." for a in range(10) for b in range(10)]
    return texts + ["Cutting Knowledge Date: December 2023 Today Date: 26 Jul 2024 system user assistant",
                    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
                    "You are a helpful AI assistant named SmolLM, trained by Hugging Face"]


def build_tokenizer(family: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    fx = fixture_config(family)
    special = [t for t in fx["added"] if t not in NOT_SPECIAL]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus() * 3, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=fx["bos"], eos_token=fx["eos"],
                                   pad_token=fx["pad"], unk_token=None)
    fast.add_tokens([t for t in fx["added"] if t in NOT_SPECIAL])
    fast.chat_template = fx["template"]
    return fast


def build_base(family: str, out: Path, seed: int = 0) -> Path:
    """A base model folder for `family`: tokenizer (+ its real chat template) and a random Llama."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    tok = build_tokenizer(family)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=128, max_position_embeddings=512,
                         tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    out = Path(out)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def completion(a: int, b: int) -> str:
    """A stored teacher completion in the canonical `<think>\\nreasoning\\n</think>\\n\\nanswer` form."""
    return f"<think>\n{a} + {b} = {a + b}.\n</think>\n\n{a + b}"


def sft_rows(n: int = 24, offset: int = 0) -> list[dict]:
    """Sums below 10: one answer digit, then the turn end -- a stopping habit a tiny model learns in seconds."""
    rows = []
    for i in range(n):
        a, b = (i + offset) % 5 + 1, (i * 3 + offset) % 4 + 1
        rows.append({"messages": [{"role": "user", "content": f"What is {a} + {b}?"},
                                  {"role": "assistant", "content": completion(a, b)}]})
    return rows
