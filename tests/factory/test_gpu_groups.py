"""GPU-aware parallel stages: with `--jobs N` on a GPU node, concurrent GPU stages get disjoint
CUDA_VISIBLE_DEVICES groups and their own ports, and a stage whose group is not free waits.
The node's GPUs are faked (`FACTORY_GPUS=8`) and the stages replaced by a recorder: no GPU needed."""

from __future__ import annotations

import json
import os
import time

from factory import runner
from factory.gpus import GpuPool, stage_gpus
from factory.graph import build_graph
from factory.recipe import load_recipe
from students.launch import command
from tests.conftest import minimal_recipe
from tests.factory import fake_stages


def record_gpus(ctx) -> dict:
    """Stage stand-in: note the GPU group and port this stage was given, hold student stages for a while."""
    started = time.time()
    if ctx.name.startswith("student."):
        time.sleep(1.5)
    (ctx.out / "gpus.json").write_text(json.dumps({
        "devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "port": os.environ.get("MASTER_PORT"),
        "vllm_port": os.environ.get("VLLM_PORT"), "started": started, "ended": time.time()}))
    return fake_stages.echo(ctx)


def _three_students(run_dir) -> dict:
    data = minimal_recipe(run_dir=str(run_dir))
    data["students"] = [{"name": n, "kind": "sft", "init": {"hub": "some-org/base"}, "launch": "ddp",
                         "num_processes": 4} for n in "abc"]
    return data


def test_pool_gives_disjoint_groups_and_ports_and_the_third_waits(tmp_path, write_recipe):
    stages = {s.name: s for s in build_graph(load_recipe(write_recipe(_three_students(tmp_path))))}
    a, b, c = (stages[f"student.{n}"] for n in "abc")
    assert stage_gpus(a) == 4 and stage_gpus(stages["report"]) == 0
    pool = GpuPool([str(i) for i in range(8)])
    la, lb = pool.take(a), pool.take(b)
    assert set(la.gpus).isdisjoint(lb.gpus) and len(la.gpus) == len(lb.gpus) == 4
    assert la.env["MASTER_PORT"] != lb.env["MASTER_PORT"] and la.env["VLLM_PORT"] != lb.env["VLLM_PORT"]
    assert not pool.fits(c) and pool.fits(stages["report"])  # CPU stages never wait for GPUs
    pool.give(la)
    assert pool.fits(c) and pool.take(c).env["CUDA_VISIBLE_DEVICES"] == la.env["CUDA_VISIBLE_DEVICES"]
    assert GpuPool([]).take(a).env == {}  # a CPU machine: nothing changes


def test_parallel_run_places_gpu_stages_on_disjoint_groups(tmp_path, write_recipe, monkeypatch):
    monkeypatch.setenv("FACTORY_GPUS", "8")
    monkeypatch.setenv("FAKE_STAGE_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setattr(runner, "stage_function", lambda kind: record_gpus)
    planned = runner.run(load_recipe(write_recipe(_three_students(tmp_path / "runs"))), workers=3)
    seen = {p.stage.name: json.loads((p.dir / "gpus.json").read_text()) for p in planned
            if p.stage.name.startswith("student.")}
    first, second, third = sorted(seen.values(), key=lambda r: r["started"])
    assert first["started"] < second["ended"] and second["started"] < first["ended"]  # two at once
    assert set(first["devices"].split(",")).isdisjoint(second["devices"].split(","))
    assert first["port"] != second["port"]
    assert third["started"] >= min(first["ended"], second["ended"]) - 0.05  # waited for a free group


def test_accelerate_gets_the_leased_port(monkeypatch, tmp_path):
    from students.config import SFTJob

    monkeypatch.setenv("MASTER_PORT", "29540")
    job = SFTJob(kind="sft", name="s", init={"hub": "x"}, launch="ddp", num_processes=2)
    cmd = command(job, tmp_path / "context.json", tmp_path / "summary.json")
    assert cmd[cmd.index("--main_process_port") + 1] == "29540"
