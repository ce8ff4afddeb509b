"""Eval at size: the vLLM backend gets tensor/data parallel, a context of prompt + max_gen_toks and CUDA graphs
on GPU; `eval.model_args` reaches lm-eval's model class and a misspelt key is a recipe error naming the
closest valid name. No engine is started (the arguments are what a user's 32B/70B eval depends on)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from eval import lm_eval_runner as runner
from eval.config import EvalConfig
from factory.recipe import RecipeError, load_recipe
from tests.conftest import REPO, minimal_recipe


def _cfg(**kw) -> dict:
    return EvalConfig(backend="vllm", tasks=["t"], **kw).model_dump()


def test_vllm_args_on_gpu(monkeypatch, tmp_path):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    args = runner.vllm_args(_cfg(tensor_parallel_size=4, data_parallel_size=2, max_gen_toks=32768,
                                 gpu_memory_utilization=0.85), "org/some-70b")
    assert args["tensor_parallel_size"] == 4 and args["data_parallel_size"] == 2
    assert args["max_model_len"] == 2048 + 32768  # prompt + max_gen_toks, not the model's 131k default
    assert args["enforce_eager"] is False  # CUDA graphs on GPU
    assert args["gpu_memory_utilization"] == 0.85
    assert "enable_chunked_prefill" not in args  # the CPU work-arounds stay on CPU


def test_vllm_args_on_cpu_cap_at_the_models_context(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 1024}))
    args = runner.vllm_args(_cfg(max_gen_toks=256), str(tmp_path))
    assert args["max_model_len"] == 1024 and args["enforce_eager"] is True
    assert args["max_num_batched_tokens"] >= args["max_model_len"]
    assert runner.vllm_args(_cfg(max_model_len=6000), str(tmp_path))["max_model_len"] == 6000  # given: as is


def test_model_args_reach_the_lm_eval_class(monkeypatch):
    seen = {}
    monkeypatch.setattr("lm_eval.api.registry.get_model", lambda name: lambda **kw: seen.update(kw, _name=name))
    cfg = EvalConfig(backend="local-completions", tasks=["t"], base_url="http://x/v1",
                     model_args={"num_concurrent": 3, "max_retries": 5}).model_dump()
    runner.build_lm(cfg, "org/m")
    assert seen["_name"] == "local-completions" and seen["num_concurrent"] == 3 and seen["max_retries"] == 5


def test_eval_gpus_are_tp_times_dp():
    assert EvalConfig(tasks=["t"], tensor_parallel_size=2, data_parallel_size=4).gpus == 8


@pytest.mark.parametrize("backend,key,closest", [("vllm", "kv_cache_dtyp", "kv_cache_dtype"),
                                                 ("vllm", "enable_prefix_cachng", "enable_prefix_caching"),
                                                 ("local-completions", "num_concurent", "num_concurrent")])
def test_unknown_model_arg_names_the_closest(write_recipe, backend, key, closest):
    data = minimal_recipe()
    data["eval"] |= {"backend": backend, "base_url": "http://x/v1", "model_args": {key: 1}}
    with pytest.raises(RecipeError) as err:
        load_recipe(write_recipe(data))
    line = next(p for p in err.value.problems if key in p)
    assert f"did you mean '{closest}'" in line and "\n" not in line


def test_known_model_args_validate(write_recipe):
    data = minimal_recipe()
    data["eval"] |= {"backend": "vllm", "model_args": {"kv_cache_dtype": "fp8", "enable_prefix_caching": True}}
    assert load_recipe(write_recipe(data)).eval.model_args["kv_cache_dtype"] == "fp8"


def test_validate_exits_2_on_a_bad_model_arg(write_recipe):
    data = minimal_recipe()
    data["eval"] |= {"backend": "vllm", "model_args": {"pretrained": "x"}}
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "validate", str(write_recipe(data))],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "eval.model_args.pretrained: set by the factory" in proc.stdout + proc.stderr
