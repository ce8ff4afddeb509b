"""Options a student needs at size: sequence parallelism reaches the trainer, GRPO's vLLM settings come from the
recipe, and a GPU run missing a package it asks for stops before loading (no silent generate fall-back)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from students import grpo, scale, sft, trainer_args
from students.config import GRPOJob, SFTJob

BASE = dict(name="s", init={"path": "x"})


def _grpo(**kw) -> GRPOJob:
    return GRPOJob(kind="grpo", **BASE, **kw)


def test_sequence_parallel_reaches_the_trainer(tmp_path):
    job = SFTJob(kind="sft", **BASE, launch="zero3", num_processes=4, sequence_parallel_size=2)
    pc = sft.sft_config(job, tmp_path).parallelism_config
    assert pc.sp_size == 2 and pc.sp_backend == "deepspeed"
    assert pc.sp_handler.sp_seq_length_is_variable and pc.sp_handler.sp_attn_implementation == "sdpa"
    assert sft.sft_config(SFTJob(kind="sft", **BASE), tmp_path).parallelism_config is None


@pytest.mark.parametrize("fields,message", [
    (dict(kind="sft", launch="ddp", num_processes=4), "needs launch zero2 or zero3"),
    (dict(kind="sft", launch="zero3", num_processes=3), "multiple of sequence_parallel_size"),
    (dict(kind="grpo", launch="zero3", num_processes=4), "only sft jobs")])
def test_sequence_parallel_checked_in_the_schema(fields, message):
    cls = SFTJob if fields["kind"] == "sft" else GRPOJob
    with pytest.raises(ValidationError, match=message):
        cls(**BASE, **fields, sequence_parallel_size=2)


def test_parallelism_config_is_the_factorys(tmp_path):
    with pytest.raises(ValidationError, match="trl.parallelism_config: set by the factory .*sequence_parallel_size"):
        SFTJob(kind="sft", **BASE, trl={"parallelism_config": {"sp_size": 2}})


def test_grpo_vllm_settings_come_from_the_trl_block(tmp_path):
    job = _grpo(max_completion_length=16384, trl={"vllm_gpu_memory_utilization": 0.35,
                                                   "vllm_enable_sleep_mode": True})
    kw = trainer_args.common_args(job, tmp_path, defaults=grpo.vllm_defaults(job))  # what grpo_config builds on CUDA
    assert kw["use_vllm"] and kw["vllm_mode"] == "colocate" and kw["vllm_enable_sleep_mode"]
    assert kw["vllm_gpu_memory_utilization"] == 0.35
    assert kw["vllm_max_model_length"] == grpo.PROMPT_BUDGET + 16384  # not Llama-3.1's 131k default
    job = _grpo(trl={"vllm_max_model_length": 9000})
    assert trainer_args.common_args(job, tmp_path, defaults=grpo.vllm_defaults(job))["vllm_max_model_length"] == 9000


def test_cpu_grpo_samples_with_generate_even_when_the_recipe_sets_vllm(tmp_path):
    config = grpo.grpo_config(_grpo(per_device_train_batch_size=8, trl={"use_vllm": True,
                                                                        "vllm_max_model_length": 9000}), tmp_path)
    assert config.use_vllm is False


def test_gpu_run_without_vllm_stops_instead_of_falling_back(monkeypatch):
    monkeypatch.setattr(scale.common, "has_cuda", lambda: True)
    monkeypatch.setattr(scale, "installed", lambda module: module not in ("vllm", "liger_kernel"))
    with pytest.raises(RuntimeError, match="vllm is not installed.*make setup-gpu"):
        scale.check_gpu_stack(_grpo())
    scale.check_gpu_stack(_grpo(trl={"use_vllm": False}))  # asked for generate: allowed
    with pytest.raises(RuntimeError, match="liger-kernel is not installed"):
        scale.check_gpu_stack(SFTJob(kind="sft", **BASE, trl={"use_liger_kernel": True}))


def test_cpu_runs_ignore_gpu_options(monkeypatch):
    monkeypatch.setattr(scale.common, "has_cuda", lambda: False)
    monkeypatch.setattr(scale, "installed", lambda module: False)
    scale.check_gpu_stack(_grpo(trl={"use_liger_kernel": True}))  # the micro recipe and the tests run like this
    assert grpo.use_vllm(_grpo()) is False
