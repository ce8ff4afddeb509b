"""Real-recipe training fields reach the trainer and the model: grad clipping, min-lr cosine, RoPE stretch."""

from students.common import load_model, load_tokenizer
from students.config import SFTJob
from students.sft import sft_config


def test_open_r1_fields_reach_trainer_and_model(tiny_model_dir, tmp_path):
    job = SFTJob(name="long", kind="sft", init={"hub": "x/y"}, min_lr_ratio=0.1, max_grad_norm=0.2,
                 gradient_checkpointing=True, rope_theta=300000.0, max_position_embeddings=4096)
    args = sft_config(job, tmp_path)
    assert args.lr_scheduler_type == "cosine_with_min_lr" and args.lr_scheduler_kwargs == {"min_lr_rate": 0.1}
    assert args.max_grad_norm == 0.2 and args.gradient_checkpointing is True
    tok = load_tokenizer(str(tiny_model_dir))
    model = load_model(str(tiny_model_dir), job, tok)
    assert model.config.rope_parameters["rope_theta"] == 300000.0
    assert model.config.max_position_embeddings == 4096


def test_defaults_leave_the_base_model_alone(tiny_model_dir, tmp_path):
    job = SFTJob(name="long", kind="sft", init={"hub": "x/y"})
    tok = load_tokenizer(str(tiny_model_dir))
    model = load_model(str(tiny_model_dir), job, tok)
    assert model.config.rope_parameters["rope_theta"] == 10000.0
    assert sft_config(job, tmp_path).max_grad_norm == 1.0
