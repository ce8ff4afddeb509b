"""SFT job: loss falls, only assistant tokens (EOS included) carry loss, packing, the artifact contract."""

from __future__ import annotations

import json

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from students import sft
from students.config import SFTJob


def _job(**kw) -> dict:
    return {"name": "long", "kind": "sft", "init": {"tiny": {}}, "max_steps": 12, "per_device_train_batch_size": 4,
            "learning_rate": 3e-3, "trl": {"save_steps": 100}} | kw


def _losses(out) -> list[float]:
    log = json.loads((out / "train_log.json").read_text())["log_history"]
    return [h["loss"] for h in log if "loss" in h]


def test_sft_loss_falls_and_writes_the_artifact(make_ctx, init_dir, data_dir):
    ctx = make_ctx(_job(), {"init": init_dir, "data": data_dir})
    summary = sft.run(ctx)
    losses = _losses(ctx.out)
    assert summary["steps"] == 12 and summary["train_tokens"] > 0 and summary["tokens_per_s"] > 0
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3, losses
    model_dir = ctx.out / "model"
    assert (model_dir / "model.safetensors").exists() and (model_dir / "chat_template.jinja").exists()
    assert not (ctx.out / "checkpoints").exists(), "checkpoints must be deleted once the model is saved"
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert model.generation_config.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    assert tok.pad_token_id != tok.eos_token_id


@pytest.mark.parametrize("packing", [False, True])
def test_only_assistant_tokens_and_eos_carry_loss(tiny_model_dir, data_dir, tmp_path, packing):
    from datasets import load_from_disk

    job = SFTJob.model_validate(_job(trl={"packing": packing}))
    ds = load_from_disk(str(data_dir / "sft")).select(range(2))
    trainer, tok = sft.build_trainer(job, str(tiny_model_dir), ds, tmp_path)
    assert tok.pad_token_id != tok.eos_token_id
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(trainer.train_dataset))])
    ids, labels = batch["input_ids"].flatten().tolist(), batch["labels"].flatten().tolist()
    trained = [i for i, lab in zip(ids, labels) if lab != -100]
    text = tok.decode(trained)
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert trained.count(im_end) == 2, "each assistant turn's final <|im_end|> (EOS) must carry loss"
    assert "<think>" in text and "</think>" in text
    assert "What is" not in text and "user" not in text, "prompt tokens must be masked"
    answer_ids = tok(ds[0]["messages"][1]["content"], add_special_tokens=False)["input_ids"]
    assert tok.decode(answer_ids + [im_end]) in text


def test_bad_dataset_is_a_one_line_error(make_ctx, init_dir, tmp_path):
    ctx = make_ctx(_job(), {"init": init_dir, "data": tmp_path / "nowhere"})
    with pytest.raises(FileNotFoundError, match="dataset 'sft' not found"):
        sft.run(ctx)


def test_token_budget_stops_training_at_the_budget(make_ctx, init_dir, data_dir, tmp_path):
    """Equal-budget comparisons (distillation vs RL) need training to stop at N trained tokens."""
    full = sft.run(make_ctx(_job(max_steps=12), {"init": init_dir, "data": data_dir}, tmp_path / "full"))
    per_step = full["train_tokens"] / full["steps"]
    budget = int(per_step * 3.5)
    cut = sft.run(make_ctx(_job(max_steps=12, token_budget=budget), {"init": init_dir, "data": data_dir},
                           tmp_path / "cut"))
    assert cut["steps"] < full["steps"], cut
    assert budget <= cut["train_tokens"] < budget + 2 * per_step + 1, (budget, cut)
