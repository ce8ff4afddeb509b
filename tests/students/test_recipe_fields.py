"""Real-recipe training fields reach the trainer and the model: the `trl:` pass-through (grad clipping,
min-lr cosine, weight decay, GRPO's scale_rewards, ...), checked against TRL's own dataclass fields; RoPE stretch."""

import pytest

from students.common import load_tokenizer
from students.loading import load_model
from students.config import SFTJob
from students.sft import sft_config


def test_open_r1_fields_reach_trainer_and_model(tiny_model_dir, tmp_path):
    job = SFTJob(name="long", kind="sft", init={"hub": "x/y"}, rope_theta=300000.0, max_position_embeddings=4096,
                 trl={"lr_scheduler_type": "cosine_with_min_lr", "lr_scheduler_kwargs": {"min_lr_rate": 0.1},
                      "max_grad_norm": 0.2, "gradient_checkpointing": True, "weight_decay": 0.05})
    args = sft_config(job, tmp_path)
    assert args.lr_scheduler_type == "cosine_with_min_lr" and args.lr_scheduler_kwargs == {"min_lr_rate": 0.1}
    assert args.max_grad_norm == 0.2 and args.gradient_checkpointing is True and args.weight_decay == 0.05
    tok = load_tokenizer(str(tiny_model_dir))
    model = load_model(str(tiny_model_dir), job, tok)
    assert model.config.rope_parameters["rope_theta"] == 300000.0
    assert model.config.max_position_embeddings == 4096


def test_defaults_leave_the_base_model_alone(tiny_model_dir, tmp_path):
    job = SFTJob(name="long", kind="sft", init={"hub": "x/y"})
    tok = load_tokenizer(str(tiny_model_dir))
    model = load_model(str(tiny_model_dir), job, tok)
    assert model.config.rope_parameters["rope_theta"] == 10000.0
    args = sft_config(job, tmp_path)
    assert args.max_grad_norm == 1.0 and args.warmup_steps == 0.03 and args.assistant_only_loss is True
    assert args.report_to == [], "tracking is off unless the recipe asks"


def test_grpo_trl_fields_reach_the_config(tmp_path):
    from students import grpo

    job = grpo.GRPOJob(name="rl", kind="grpo", init={"hub": "x/y"}, num_generations=4,
                       trl={"scale_rewards": "batch", "weight_decay": 0.1, "beta": 0.04, "temperature": 0.7})
    args = grpo.grpo_config(job, tmp_path)
    assert (args.scale_rewards, args.weight_decay, args.beta, args.temperature) == ("batch", 0.1, 0.04, 0.7)


@pytest.mark.parametrize("kind, key, close", [("sft", "weight_decy", "weight_decay"),
                                              ("grpo", "scale_reward", "scale_rewards"),
                                              ("dpo", "los_type", "loss_type")])
def test_unknown_trl_key_names_the_closest_field(kind, key, close):
    from pydantic import TypeAdapter, ValidationError

    from students.config import StudentJob

    with pytest.raises(ValidationError, match=f"trl.{key}: not a field of .*Config \\(did you mean '{close}'\\?\\)"):
        TypeAdapter(StudentJob).validate_python({"name": "a", "kind": kind, "init": {"hub": "x/y"}, "trl": {key: 1}})


def test_trl_block_refuses_factory_managed_and_top_level_keys():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="trl.output_dir: set by the factory"):
        SFTJob(name="a", kind="sft", init={"hub": "x/y"}, trl={"output_dir": "/tmp/x"})
    with pytest.raises(ValidationError, match="trl.max_length: set it once, as the job's top-level `max_length`"):
        SFTJob(name="a", kind="sft", init={"hub": "x/y"}, trl={"max_length": 64})
