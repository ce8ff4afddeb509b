"""The `bootstrap` stage: trains a teacher with TRL on programmatic traces (loss falls), saves a folder
AutoModel/AutoTokenizer load (chat template included), and never trains on held-out prompts."""

from __future__ import annotations

import json

import pytest

TASK = dict(min_terms=2, max_terms=2, min_digits=1, max_digits=1, operators=["+"],
            allow_parentheses=False, allow_negation=False)  # only 121 distinct questions: exclusion bites


def prompt_rows(seed: int, size: int, split: str) -> list[dict]:
    import reasoning_gym

    ds = reasoning_gym.create_dataset("basic_arithmetic", size=size, seed=seed, **TASK)
    return [{"prompt_id": f"{split}-{i}", "source": "t", "prompt": x["question"], "gold": x["answer"],
             "task": "procedural:basic_arithmetic", "split": split, "metadata": x["metadata"]}
            for i, x in enumerate(ds)]


@pytest.fixture(scope="module")
def prompts_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("prompts")
    (root / "eval").mkdir()
    for path, rows in [(root / "eval" / "heldout.jsonl", prompt_rows(97, 40, "eval")),
                       (root / "train.jsonl", prompt_rows(11, 20, "train"))]:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def boot_config(**overrides) -> dict:
    cfg = dict(task_config=TASK, model=dict(hidden_size=64, num_layers=1, num_heads=2, intermediate_size=128),
               train_examples=80, steps=10, batch_size=8, learning_rate=4e-3, max_length=160, vocab_size=300,
               max_checks=2, probe_prompts=2, probe_samples=1, checkpoint_every=1000)
    return cfg | overrides


def held_out(prompts_dir) -> set[str]:
    return {json.loads(line)["prompt"] for line in (prompts_dir / "eval" / "heldout.jsonl").read_text().splitlines()}


def test_training_items_exclude_eval_and_train_prompts(prompts_dir):
    from teachers.bootstrap import excluded_prompts, training_traces
    from teachers.config import BootstrapConfig

    cfg = BootstrapConfig.model_validate(boot_config(train_examples=300))
    excluded = excluded_prompts(prompts_dir, exclude_train=True)
    assert held_out(prompts_dir) <= excluded and len(excluded) > len(held_out(prompts_dir))
    questions = {t.question for t in training_traces(cfg, excluded)}
    assert questions and not questions & excluded
    # without the exclusion this pool would have hit the held-out prompts: the test is not vacuous
    assert {t.question for t in training_traces(cfg, set())} & held_out(prompts_dir)
    assert not excluded_prompts(prompts_dir, exclude_train=False) - held_out(prompts_dir)


def test_trace_style_picks_the_trace_design(prompts_dir):
    from teachers.bootstrap import training_traces
    from teachers.config import BootstrapConfig

    old = training_traces(BootstrapConfig.model_validate(boot_config(train_examples=200)), set())
    new = training_traces(BootstrapConfig.model_validate(boot_config(train_examples=200, trace_style="overthink")), set())
    assert all("Add the columns, ones first." in t.reasoning for t in old)  # the default stays the first design
    assert not any("Add the columns" in t.reasoning for t in new) and any("double-check" in t.reasoning for t in new)
    with pytest.raises(ValueError, match="trace_style"):
        BootstrapConfig.model_validate(boot_config(trace_style="r2"))
    from teachers.bootstrap import trace_style

    style = trace_style(BootstrapConfig.model_validate(boot_config(trace_style="overthink", direct_rate=0.4)))
    assert (style.design, style.direct_rate) == ("overthink", 0.4)


@pytest.mark.slow
def test_stage_trains_and_saves_a_loadable_teacher(prompts_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from factory.stages import StageContext, stage_function

    out = tmp_path / "teacher"
    out.mkdir()
    ctx = StageContext("teacher", "bootstrap", {"teacher": {"bootstrap": boot_config()}},
                       {"prompts": prompts_dir}, out, recipe=None)
    summary = stage_function("bootstrap")(ctx)

    assert summary["steps"] == 10 and summary["train_tokens"] > 0 and summary["tokens_per_s"] > 0
    assert summary["final_loss"] < summary["first_loss"] - 0.5
    assert summary["excluded_prompts"] >= len(held_out(prompts_dir))
    assert summary["probe"]["prompts"] == 2 and 0.0 <= summary["probe"]["accuracy"] <= 1.0
    assert not (out / "checkpoints").exists()

    tok = AutoTokenizer.from_pretrained(out / "model")
    model = AutoModelForCausalLM.from_pretrained(out / "model")
    assert "{% generation %}" in tok.chat_template and "<|im_start|>assistant" in tok.chat_template
    assert tok.eos_token == "<|im_end|>" and tok.pad_token_id != tok.eos_token_id
    assert model.config.head_dim % 32 == 0 if getattr(model.config, "head_dim", None) else True
    assert sum(p.numel() for p in model.parameters()) == summary["parameters"]
    digits = tok.convert_ids_to_tokens(tok("<think>\nOnes: 7+5=12\n</think>123")["input_ids"])
    assert [p for p in digits if p.isdigit()] == ["7", "5", "1", "2", "1", "2", "3"]

    # A student base built beside this teacher gets the same vocabulary (on-policy distillation checks it),
    # rebuilt from the teacher's config alone; the base's own traces would give a different one.
    from teachers.bootstrap import teacher_tokenizer

    assert teacher_tokenizer(boot_config(), prompts_dir).get_vocab() == tok.get_vocab()
    assert teacher_tokenizer(boot_config(seed=5), prompts_dir).get_vocab() != tok.get_vocab()
