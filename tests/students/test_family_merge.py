"""Merges that load (issue #14): linear and TIES merges of two SFT students and their real-family base.

The base is the Qwen2.5-base fixture (eos = pad = <|endoftext|>), the case where the old pad fix added a
token and resized the students, so a TIES merge over the original base produced a model whose config
(taken from the base) did not match its weights.
"""

from __future__ import annotations

import json

import pytest

from tests.students.family_models import build_base, sft_rows


@pytest.fixture(scope="module")
def family_students(tmp_path_factory):
    import torch
    from datasets import Dataset

    from students import common, sft
    from students.config import SFTJob

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("family-merge")
    base = build_base("qwen2.5-base", root / "base-qwen" / "model")
    job = SFTJob(name="s", kind="sft", init={"path": str(base)}, learning_rate=3e-3, per_device_train_batch_size=8, max_steps=40,
                 max_length=256, trl={"warmup_steps": 0, "save_steps": 1000})
    out = {}
    for name, offset in (("long", 0), ("short", 7)):
        folder = root / name
        trainer, tok = sft.build_trainer(job, str(base), Dataset.from_list(sft_rows(16, offset)), folder)
        common.train(trainer, folder)
        common.save_final(trainer, tok, folder)
        out[name] = folder
    yield base, out["long"], out["short"]
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["linear", "ties"])
def test_merge_of_family_students_loads_and_generates(make_ctx, family_students, method, tmp_path):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from students import merge

    base, long_dir, short_dir = family_students
    job = {"name": "mix", "kind": "merge", "models": ["long", "short"], "weights": [0.5], "method": method,
           "density": 0.7}
    ctx = make_ctx(job, {"long": long_dir, "short": short_dir}, weight=0.5, out=tmp_path / method)
    ctx.manifests["long"] = {"config": {"job": {"init": {"path": str(base)}}}}
    summary = merge.run(ctx)
    assert summary["base_model"] == (str(base) if method == "ties" else None)

    folder = ctx.out / "model"
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    student = AutoTokenizer.from_pretrained(long_dir / "model")
    assert model.get_input_embeddings().weight.shape[0] == AutoConfig.from_pretrained(base).vocab_size == len(tok)
    assert tok.get_vocab() == student.get_vocab() and tok.chat_template == student.chat_template
    gen = json.loads((folder / "generation_config.json").read_text())
    assert gen["eos_token_id"] == json.loads((long_dir / "model" / "generation_config.json").read_text())["eos_token_id"]
    assert model.config.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>") != model.config.pad_token_id
    ids = tok.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_merge_refuses_models_of_different_vocab_sizes(tmp_path):
    from students.merge import check_same_vocab

    a = build_base("qwen2.5-base", tmp_path / "a")
    b = build_base("smollm2", tmp_path / "b")
    with pytest.raises(ValueError, match="different vocabulary sizes"):
        check_same_vocab([str(a), str(b)])
