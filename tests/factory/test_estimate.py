"""`factory plan --estimate`: GPU-hours and wall time per stage behave the way a user budgeting a run expects."""

from __future__ import annotations

import copy

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.estimate import EstimateError, estimate, model_params, print_estimate
from factory.hardware import HardwareConfig
from factory.recipe import load_recipe
from tests.conftest import REPO, minimal_recipe

REAL = sorted((REPO / "recipes").glob("r1-distill-*.yaml"))


def _by_stage(recipe) -> dict:
    return {r.stage: r for r in estimate(recipe)}


def _real_dict(**overrides) -> dict:
    """A minimal recipe on one 8×H100 node with a known 7B teacher served by vLLM."""
    base = minimal_recipe(teacher={"model": "Qwen/Qwen2.5-Math-7B", "backend": "vllm"},
                          hardware={"gpu": "h100", "gpus_per_node": 8, "nodes": 1})
    base["generation"] = {"n": 4, "max_tokens": 16384}
    base["students"] = [{"name": "long", "kind": "sft", "init": {"hub": "Qwen/Qwen2.5-Math-1.5B"},
                         "max_length": 16384, "num_processes": 8, "launch": "zero3"}]
    base.update(overrides)
    return base


def test_all_six_r1_students_ship_a_recipe():
    assert {p.stem for p in REAL} == {f"r1-distill-{s}" for s in
                                      ("qwen-1.5b", "qwen-7b", "qwen-14b", "qwen-32b", "llama-8b", "llama-70b")}


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_recipe_estimates_are_positive_and_printed(path, capsys):
    recipe = load_recipe(path)
    rows = _by_stage(recipe)
    assert rows["generate"].wall_hours > 0 and rows["generate"].tokens > 0
    trained = [r for name, r in rows.items() if r.kind in ("sft", "dpo", "grpo")]
    evals = [r for r in rows.values() if r.kind == "eval"]
    assert trained and evals
    for r in trained + evals:
        assert r.gpu_hours > 0 and r.wall_hours > 0, r
        assert r.gpus <= recipe.hardware.total_gpus, f"{r.stage} asks for more GPUs than the recipe's hardware"
        assert r.peak_gib is not None and not r.warning, r.warning  # every stage fits its GPUs (factory/memory.py)
    print_estimate(recipe)
    out = capsys.readouterr().err
    assert f"estimate: {recipe.name}" in out and "total" in out and "student.long" in out
    assert "GiB/GPU" in out and "warning:" not in out


def test_generation_scales_linearly_with_n_and_prompts(write_recipe):
    base = _by_stage(load_recipe(write_recipe(_real_dict())))["generate"]
    more_n = _real_dict()
    more_n["generation"]["n"] = 8
    more_prompts = _real_dict()
    more_prompts["prompts"]["sources"][0]["size"] = 16
    for variant in (more_n, more_prompts):
        est = _by_stage(load_recipe(write_recipe(variant)))["generate"]
        assert est.tokens == pytest.approx(2 * base.tokens)
        assert est.gpu_hours == pytest.approx(2 * base.gpu_hours)
        assert est.wall_hours == pytest.approx(2 * base.wall_hours)


def test_70b_training_costs_about_the_parameter_ratio_more_than_1_5b():
    small = _by_stage(load_recipe(REPO / "recipes" / "r1-distill-qwen-1.5b.yaml"))["student.long"]
    big = _by_stage(load_recipe(REPO / "recipes" / "r1-distill-llama-70b.yaml"))["student.long"]
    ratio = big.gpu_hours / small.gpu_hours
    assert ratio == pytest.approx(70.6 / 1.54, rel=0.1)
    assert big.wall_hours < ratio * small.wall_hours  # 32 GPUs instead of 8


def test_micro_recipe_estimate_on_cpu_is_minutes(capsys):
    recipe = load_recipe(REPO / "recipes" / "micro.yaml")
    rows = estimate(recipe)
    total_min = sum(r.wall_hours for r in rows) * 60
    assert 2 < total_min < 120, f"micro estimate {total_min:.1f} min"
    assert all(r.gpus <= 1 for r in rows)
    assert {r.stage for r in rows if r.wall_hours > 0} >= {"teacher", "generate", "student.long", "eval.long"}
    print_estimate(recipe)
    assert "2-core CPU" in capsys.readouterr().err


def test_unknown_model_id_is_a_clear_error_with_a_fix(write_recipe):
    data = _real_dict(teacher={"model": "my-org/mystery-teacher", "backend": "vllm"})
    recipe = load_recipe(write_recipe(data))
    with pytest.raises(EstimateError, match=r"my-org/mystery-teacher.*hardware\.model_params"):
        estimate(recipe)
    result = CliRunner().invoke(app, ["plan", str(recipe._source), "--estimate"])
    assert result.exit_code == 2 and "hardware.model_params" in result.output
    data["hardware"]["model_params"] = {"my-org/mystery-teacher": 7.0}
    assert _by_stage(load_recipe(write_recipe(data)))["generate"].gpu_hours > 0


def test_model_size_from_the_name_and_table():
    hw = HardwareConfig()
    assert model_params("some-org/Foo-3B-Instruct", hw) == 3.0
    assert model_params("HuggingFaceTB/SmolLM2-360M", hw) == pytest.approx(0.36)
    assert model_params("Qwen/Qwen2.5-Math-1.5B", hw) == pytest.approx(1.54)


def test_measured_throughput_and_gpu_kind_change_the_estimate(write_recipe):
    base = _by_stage(load_recipe(write_recipe(_real_dict())))
    data = _real_dict()
    data["hardware"]["gpu"] = "a100"
    a100 = _by_stage(load_recipe(write_recipe(data)))
    assert a100["student.long"].gpu_hours == pytest.approx(base["student.long"].gpu_hours * 989 / 312)
    data = _real_dict()
    data["hardware"]["gpu"] = "h200"
    assert _by_stage(load_recipe(write_recipe(data)))["generate"].gpu_hours < base["generate"].gpu_hours
    measured = copy.deepcopy(_real_dict())
    measured["hardware"]["generation_tokens_per_s"] = 100.0
    est = _by_stage(load_recipe(write_recipe(measured)))["generate"]
    assert est.gpu_hours == pytest.approx(est.tokens / 100.0 / 3600)


def test_api_teacher_costs_wall_time_not_gpu_hours(write_recipe):
    data = _real_dict(teacher={"model": "deepseek-ai/DeepSeek-R1", "backend": "openai",
                               "base_url": "https://api.deepseek.com/v1", "max_concurrency": 100})
    gen = _by_stage(load_recipe(write_recipe(data)))["generate"]
    assert gen.gpu_hours == 0 and gen.gpus == 0
    assert gen.wall_hours == pytest.approx(gen.tokens / (25.0 * 100) / 3600)


def test_a_70b_student_on_one_node_is_flagged_as_not_fitting(write_recipe):
    data = _real_dict()
    data["students"][0]["init"] = {"hub": "meta-llama/Llama-3.3-70B-Instruct"}
    row = _by_stage(load_recipe(write_recipe(data)))["student.long"]
    assert row.peak_gib > 80 and "needs" in row.warning and "H100 has 78" in row.warning


def test_cli_plan_estimate_prints_the_table():
    result = CliRunner().invoke(app, ["plan", str(REPO / "recipes" / "r1-distill-qwen-7b.yaml"), "--estimate"])
    assert result.exit_code == 0, result.output
    assert "estimate: r1-distill-qwen-7b" in result.output and "GPU-hours" in result.output


def test_slurm_training_script_reaches_the_accelerate_command(monkeypatch, tmp_path):
    """The env variables train_zero3.sbatch exports are the ones students/launch.py puts on the command line."""
    from students import launch
    from students.config import SFTJob

    script = (REPO / "recipes" / "slurm" / "train_zero3.sbatch").read_text()
    assert "export FACTORY_LAUNCH_PREFIX=" in script and "export FACTORY_ACCELERATE_ARGS=" in script
    monkeypatch.setattr(launch, "effective_config", lambda job, folder: tmp_path / "zero3.yaml")
    monkeypatch.setenv("FACTORY_LAUNCH_PREFIX", "srun --nodes=2 --ntasks-per-node=1")
    monkeypatch.setenv("FACTORY_ACCELERATE_ARGS", "--num_machines 2 --num_processes 16 --rdzv_backend c10d")
    job = SFTJob(name="long", kind="sft", init={"hub": "x/y-1B"}, launch="zero3", num_processes=16)
    cmd = launch.command(job, tmp_path / "context.json", tmp_path / "summary.json")
    assert cmd[:3] == ["srun", "--nodes=2", "--ntasks-per-node=1"]
    assert cmd.index("--num_machines") < cmd.index("students.job_main")


# ------------------------------------------------------------------ memory (factory/memory.py), by hand
QWEN7B = dict(h=3584, layers=28, kv=4, d=128, i=18944, vocab=152064, params=7.62e9)
GIB = 2**30


def _qwen7b():
    from factory.model_size import KNOWN_SHAPES

    return KNOWN_SHAPES["qwen/qwen2.5-math-7b"]


def test_training_memory_of_qwen_7b_by_hand():
    """Qwen2.5-Math-7B, ZeRO-3 on 8 GPUs, 2 × 32k tokens, checkpointing (the r1-distill-qwen-7b SFT)."""
    from factory import memory

    q = QWEN7B
    m = memory.training(_qwen7b(), 7.62, launch="zero3", gpus=8, seq=32768, micro_batch=2, checkpointing=True,
                        memory_gb=80)
    states = m.parts["weights"] + m.parts["grads"] + m.parts["optimizer"]
    assert states == pytest.approx(16 * q["params"] / 8 / GIB)  # ZeRO: (2 + 2 + 12) bytes/param / N_d = 14.19
    per_token_layer = 12 * q["h"] + 4 * q["kv"] * q["d"] + 8 * q["i"]  # 196,608 bytes
    assert per_token_layer == 196_608
    tokens = 2 * 32768
    assert m.parts["activations"] == pytest.approx((q["layers"] * 2 * q["h"] + per_token_layer) * tokens / GIB)
    assert m.parts["zero3 gather"] == pytest.approx(q["vocab"] * q["h"] * 2 / GIB)  # embedding > 2 layers
    assert m.parts["logits"] == 0  # TRL's fused LM head
    assert m.peak_gib == pytest.approx(14.19 + 24.25 + 1.015 + 4.0, abs=0.01) and m.fits


def test_zero_stages_partition_what_the_paper_says():
    from factory import memory

    p = 7.62e9 / GIB
    z2 = memory.model_states_gib(7.62, "zero2", 8)
    assert sum(z2.values()) == pytest.approx(2 * p + 14 * p / 8)
    assert sum(memory.model_states_gib(7.62, "ddp", 8).values()) == pytest.approx(16 * p)
    assert sum(memory.model_states_gib(7.62, "fsdp", 8).values()) == pytest.approx(16 * p / 8)


def test_preference_pairs_double_the_tokens_and_dpo_holds_a_reference():
    from factory import memory

    kw = dict(launch="zero3", gpus=8, seq=8192, micro_batch=1, checkpointing=True, memory_gb=80)
    sft = memory.training(_qwen7b(), 7.62, **kw)
    dpo = memory.training(_qwen7b(), 7.62, sequences_per_example=2, reference=True, **kw)
    simpo = memory.training(_qwen7b(), 7.62, sequences_per_example=2, fused_head=False, **kw)
    assert dpo.parts["activations"] == pytest.approx(2 * sft.parts["activations"])
    assert dpo.parts["reference"] == pytest.approx(2 * 7.62e9 / 8 / GIB)
    assert simpo.parts["logits"] == pytest.approx(2 * 8192 * QWEN7B["vocab"] * 10 / GIB)  # CPOTrainer's logits
    assert "reference" not in simpo.parts


def test_each_preference_kind_and_distill_get_their_own_memory_terms():
    """The kind modules' jobs (students/kinds.py) reach factory.memory with their TRL fields from `trl:`."""
    from factory import memory
    from students import distill, dpo, grpo, orpo, simpo

    base = dict(name="s", init={"path": "x"}, launch="zero3", num_processes=8, per_device_train_batch_size=1,
                max_length=8192, trl={"gradient_checkpointing": True})
    mem = {k: memory.student(cls(kind=k, **base), _qwen7b(), 7.62, 80, 1024) for k, cls in
           (("dpo", dpo.DPOJob), ("simpo", simpo.SimPOJob), ("orpo", orpo.ORPOJob))}
    assert "reference" in mem["dpo"].parts and mem["dpo"].parts["logits"] == 0
    for k in ("simpo", "orpo"):  # reference-free, and trl.experimental's trainers materialise the logits
        assert "reference" not in mem[k].parts and mem[k].parts["logits"] > 0
    run = {k: v for k, v in base.items() if k != "max_length"}
    off = memory.student(distill.DistillJob(kind="distill", **run), _qwen7b(), 7.62, 80, 1024, teacher_params_b=32.8)
    assert off.parts["teacher"] == pytest.approx(2 * 32.8e9 / 8 / GIB)
    kl = memory.student(grpo.GRPOJob(kind="grpo", **run | {"trl": {"beta": 0.04, "use_vllm": False}}),
                        _qwen7b(), 7.62, 80, 1024)
    assert "reference" in kl.parts and "vllm (colocated)" not in kl.parts


def test_sequence_parallel_splits_activations():
    from factory import memory

    kw = dict(launch="zero3", gpus=8, seq=32768, micro_batch=1, checkpointing=True, memory_gb=80)
    one, two = memory.training(_qwen7b(), 7.62, **kw), memory.training(_qwen7b(), 7.62, sp=2, **kw)
    assert two.parts["activations"] == pytest.approx(one.parts["activations"] / 2)


def test_kv_cache_by_hand_and_tensor_parallel():
    from factory import memory

    q = QWEN7B
    assert memory.kv_bytes_per_token(_qwen7b()) == 2 * q["layers"] * q["kv"] * q["d"] * 2 == 57_344
    assert memory.kv_bytes_per_token(_qwen7b(), tp=2) == 57_344 / 2
    assert memory.kv_bytes_per_token(_qwen7b(), tp=8) == 57_344 / 4  # 4 kv heads: at least one per GPU
    m = memory.sampling(_qwen7b(), 7.62, tp=1, max_model_len=34816, batch=8, memory_gb=80)
    assert m.parts["weights"] == pytest.approx(2 * 7.62e9 / GIB)
    assert m.parts["kv cache"] == pytest.approx(8 * 57_344 * 34816 / GIB) and m.fits and not m.notes


def test_a_32b_student_at_batch_2_does_not_fit_and_batch_1_does(write_recipe):
    """The issue's case: 32B at 32k tokens and batch 2 needs ~95 GB per GPU on 16 H100s."""
    data = _real_dict(hardware={"gpu": "h100", "gpus_per_node": 8, "nodes": 2})
    data["students"][0] |= {"init": {"hub": "Qwen/Qwen2.5-32B"}, "max_length": 32768, "num_processes": 16,
                            "per_device_train_batch_size": 2, "trl": {"gradient_checkpointing": True}}
    row = _by_stage(load_recipe(write_recipe(data)))["student.long"]
    assert 90 < row.peak_gib < 100 and row.warning
    data["students"][0]["per_device_train_batch_size"] = 1
    row = _by_stage(load_recipe(write_recipe(data)))["student.long"]
    assert row.peak_gib < 78 and not row.warning


def test_eval_uses_the_gpus_it_asks_for(write_recipe):
    data = _real_dict()
    data["eval"] |= {"backend": "vllm", "tensor_parallel_size": 1, "data_parallel_size": 1}
    one = _by_stage(load_recipe(write_recipe(data)))["eval.long"]
    data["eval"] |= {"data_parallel_size": 4}
    four = _by_stage(load_recipe(write_recipe(data)))["eval.long"]
    assert one.gpus == 1 and four.gpus == 4  # not all 8 of the node
    assert four.gpu_hours == pytest.approx(one.gpu_hours) and four.wall_hours == pytest.approx(one.wall_hours / 4)


def test_a_70b_eval_on_one_gpu_is_flagged_and_tp4_fits(write_recipe):
    data = _real_dict()
    data["students"][0]["init"] = {"hub": "meta-llama/Llama-3.3-70B-Instruct"}
    data["eval"] |= {"backend": "vllm", "max_gen_toks": 32768}
    assert "tensor_parallel_size" in _by_stage(load_recipe(write_recipe(data)))["eval.long"].warning
    data["eval"]["tensor_parallel_size"] = 4
    assert not _by_stage(load_recipe(write_recipe(data)))["eval.long"].warning
