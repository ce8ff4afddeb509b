"""`factory generate RECIPE --worker-index I --num-workers N`: workers fill the runner's work folder, then
`factory run` only checks the shards and publishes the generate artifact."""

from __future__ import annotations

from typer.testing import CliRunner

from factory import runner
from core.atomic import read_jsonl
from factory.cli import app
from core.manifest import read_manifest
from factory.recipe import load_recipe
from tests.conftest import minimal_recipe


def test_two_workers_then_run_publishes(tiny_model_dir, tmp_path, write_recipe):
    data = minimal_recipe(run_dir=str(tmp_path / "runs"))
    data["teacher"] = {"model": str(tiny_model_dir), "backend": "transformers"}
    data["generation"] = {"n": 2, "max_tokens": 8, "shards": 3, "batch_size": 4}
    path = write_recipe(data)
    cli = CliRunner()

    early = cli.invoke(app, ["generate", str(path), "--worker-index", "0", "--num-workers", "2"])
    assert early.exit_code == 2 and "run the upstream stages first" in early.output

    recipe = load_recipe(path)
    runner.run(recipe, until="prompts")
    for i in range(2):
        res = cli.invoke(app, ["generate", str(path), "--worker-index", str(i), "--num-workers", "2"])
        assert res.exit_code == 0, res.output
    work = next(recipe.run_root.glob("generate-*.partial"))
    assert sorted(p.name for p in (work / "samples").glob("shard-?????.jsonl")) == [
        "shard-00000.jsonl", "shard-00001.jsonl", "shard-00002.jsonl"]

    planned = runner.run(recipe, until="generate")
    gen = next(p for p in planned if p.stage.name == "generate")
    summary = read_manifest(gen.dir)["summary"]
    prompts = len(read_jsonl(next(recipe.run_root.glob("prompts-*")) / "train.jsonl"))
    assert summary["new_samples"] == 0 and summary["samples"] == 2 * prompts > 0
