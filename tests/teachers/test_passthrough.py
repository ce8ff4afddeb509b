"""The teacher's `sampling:` / `engine:` blocks: checked against vLLM's own fields by `factory validate`,
part of the stage hash, and passed through to the engine; GPU engine defaults."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from factory import runner
from factory.cli import app
from factory.recipe import load_recipe
from teachers.backend_vllm import worker_command
from teachers.config import GenerationConfig, TeacherConfig
from teachers.conventions import get_convention
from teachers.passthrough import sampling_params
from tests.conftest import minimal_recipe


def _validate(write_recipe, tmp_path, **teacher):
    data = minimal_recipe(run_dir=str(tmp_path / "runs"))
    data["teacher"] = {**data["teacher"], **teacher}
    return CliRunner().invoke(app, ["validate", str(write_recipe(data))])


@pytest.mark.parametrize("block, line", [
    ({"sampling": {"top_kk": 5}}, "sampling.top_kk: not a field of vllm.SamplingParams; did you mean 'top_k'?"),
    ({"engine": {"enable_prefix_cache": True}},
     "engine.enable_prefix_cache: not a field of vllm EngineArgs; did you mean 'enable_prefix_caching'?"),
    ({"sampling": {"temperature": 0.3}}, "sampling.temperature: set generation.temperature instead"),
])
def test_unknown_or_duplicated_key_is_one_line_exit_2(block, line, write_recipe, tmp_path):
    if "not a field" in line:  # checked against vLLM's classes: only where vLLM is installed
        pytest.importorskip("vllm")
    res = _validate(write_recipe, tmp_path, **block)
    assert res.exit_code == 2 and line in " ".join(res.output.split()), res.output


def test_blocks_are_valid_and_part_of_the_stage_hash(write_recipe, tmp_path):
    pytest.importorskip("vllm")
    ok = _validate(write_recipe, tmp_path, sampling={"min_p": 0.05}, engine={"enable_prefix_caching": True})
    assert ok.exit_code == 0, ok.output
    hashes = []
    for sampling in ({}, {"min_p": 0.05}, {"min_p": 0.1}):
        data = minimal_recipe(run_dir=str(tmp_path / "runs"))
        data["teacher"] = {**data["teacher"], "sampling": sampling}
        plan = {p.stage.name: p.stage.hash for p in runner.plan(load_recipe(write_recipe(data)))}
        hashes.append((plan["prompts"], plan["generate"]))
    assert len({h[0] for h in hashes}) == 1 and len({h[1] for h in hashes}) == 3


def test_temperature_reaches_sampling_params_in_one_form():
    vllm_worker = pytest.importorskip("teachers.vllm_worker")
    pytest.importorskip("vllm")
    teacher = TeacherConfig(model="m", sampling={"min_p": 0.05, "top_k": 7})
    sampling = sampling_params(GenerationConfig(temperature=0.3, top_p=0.8, max_tokens=99, n=3), teacher,
                               get_convention("generic"))
    params = vllm_worker.sampling_params(json.loads(json.dumps(sampling)), seed=11)  # as sent to the worker
    assert (params.temperature, params.top_p, params.max_tokens, params.n) == (0.3, 0.8, 99, 3)
    assert (params.min_p, params.top_k, params.seed) == (0.05, 7, 11)


def test_engine_block_and_device_defaults(monkeypatch):
    from teachers import vllm_worker

    cmd = worker_command("m", TeacherConfig(model="m", engine={"max_num_seqs": 64}))
    assert json.loads(cmd[cmd.index("--engine-json") + 1]) == {"max_num_seqs": 64}
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    gpu = vllm_worker.engine_kwargs("m", engine={"max_num_seqs": 64})
    assert gpu["enforce_eager"] is False and "enable_chunked_prefill" not in gpu and gpu["max_num_seqs"] == 64
    assert vllm_worker.engine_kwargs("m", compiled=False)["enforce_eager"] is True
    monkeypatch.setattr(vllm_worker, "_model_context", lambda model: 2048)
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "x")
    assert vllm_worker._set_env(vllm_worker._parse(["--model", "m"])) is True
    assert os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "1"  # engine multiprocessing on GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cpu = vllm_worker.engine_kwargs("m")
    assert cpu["enforce_eager"] is True and cpu["enable_chunked_prefill"] is False and cpu["dtype"] == "float32"
    vllm_worker._set_env(vllm_worker._parse(["--model", "m"]))
    assert os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"  # in-process on CPU (DESIGN.md)

