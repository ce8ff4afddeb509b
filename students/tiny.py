"""Tiny models and tokenizers built offline (no download), shared by tests and the micro recipe.

The tokenizer is a byte-level BPE trained on a given corpus with digits split one by one (small
models learn arithmetic far better that way), a ChatML template whose assistant turn sits inside
`{% generation %}` (so TRL's assistant_only_loss works) and includes `<|im_end|>` (so EOS is trained:
pad and EOS are different tokens, open-r1 #492). head_dim defaults to 32, which vLLM's CPU attention needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] }}{{ '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
THINK_TOKENS = ["<think>", "</think>"]
PAD, EOS = "<|endoftext|>", "<|im_end|>"

_DEFAULT_CORPUS = [
    "What is 17 + 25? Answer with the number only.",
    "<think>First add the ones: 7 + 5 = 12. Wait, let me verify: 12 - 5 = 7. Yes.</think>42",
    "The quick brown fox jumps over the lazy dog. Solve the problem step by step.",
    "Let me check again. So the answer is 3/4 = 0.75. Hmm, carry the 1, then 1 + 2 + 1 = 4.",
    "def add(a, b):\n    return a + b\n",
]


def build_tokenizer(corpus: Iterable[str] | None = None, vocab_size: int = 512):
    """Train a byte-level BPE with split digits and a ChatML template; returns a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + THINK_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    texts = list(corpus) if corpus is not None else []
    tok.train_from_iterator(texts + _DEFAULT_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=None, eos_token=EOS, pad_token=PAD,
                                   unk_token=None)
    fast.add_tokens(THINK_TOKENS)  # ordinary added tokens: kept by decode(skip_special_tokens=True)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(tokenizer, spec=None, seed: int = 0):
    """A random-init causal LM sized by `spec` (teachers.config.TinyModel) for `tokenizer`."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    from teachers.config import TinyModel

    spec = spec or TinyModel()
    common = dict(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads, num_key_value_heads=spec.num_kv_heads or spec.num_heads,
        intermediate_size=spec.intermediate_size, max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    config = Qwen2Config(**common) if spec.architecture == "qwen2" else LlamaConfig(**common)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def save_pretrained(model, tokenizer, out: Path) -> Path:
    """Save weights (safetensors), tokenizer and chat template so AutoModel/AutoTokenizer load them."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def build_tiny(out: Path, corpus: Iterable[str] | None = None, spec=None, seed: int = 0, vocab_size: int = 512) -> Path:
    """Tokenizer + model in one folder; the fixture used by tests."""
    tok = build_tokenizer(corpus, vocab_size=vocab_size)
    return save_pretrained(build_model(tok, spec, seed), tok, out)


def run(ctx) -> dict:
    """Stage `tiny`: a random-init student base that shares the teacher's tokenizer."""
    from transformers import AutoTokenizer

    from teachers.config import TinyModel

    source = ctx.inputs.get("tokenizer")
    tok_path = str(source / "model") if source else ctx.config["tokenizer_from"]
    tokenizer = AutoTokenizer.from_pretrained(tok_path)
    spec = TinyModel.model_validate(ctx.config["tiny"])
    model = build_model(tokenizer, spec, seed=ctx.config["seed"])
    save_pretrained(model, tokenizer, ctx.out / "model")
    return {"parameters": sum(p.numel() for p in model.parameters()), "tokenizer_from": tok_path}
