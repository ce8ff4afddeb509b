"""`factory push`: refusals, the dry-run release folder, and a real upload to a local Hub stand-in."""

from __future__ import annotations

import json

import pytest

from eval.release import ReleaseRefused, push_students
from factory.runner import completed_stages  # the orchestration resolves the stage folders, as `factory push` does
from tests.eval.helpers import published_run
from tests.eval.hub_server import LocalHub

TOKEN = "hf_testtokenvalue0123456789abcdefghijklmn"


def test_push_refuses_failing_and_unknown_students(tmp_path, tiny_model_dir):
    recipe = published_run(tmp_path, tiny_model_dir)
    with pytest.raises(ReleaseRefused, match=r"student 'short' failed its gate: heldout.acc = 0.1 fails >= 0.3"):
        list(push_students(recipe, completed_stages(recipe), student="short", dry_run=True))
    with pytest.raises(ReleaseRefused, match="student 'ghost' was never evaluated"):
        list(push_students(recipe, completed_stages(recipe), student="ghost", dry_run=True))
    assert not (recipe.run_root / "release" / "short").exists()


def test_push_refuses_without_a_report(tmp_path, tiny_model_dir):
    recipe = published_run(tmp_path, tiny_model_dir)
    next(recipe.run_root.glob("report-*/manifest.json")).unlink()
    with pytest.raises(ReleaseRefused, match="no complete report"):
        list(push_students(recipe, completed_stages(recipe), dry_run=True))


def test_dry_run_writes_the_release_folder(tmp_path, tiny_model_dir):
    recipe = published_run(tmp_path, tiny_model_dir)
    lines = list(push_students(recipe, completed_stages(recipe), dry_run=True))
    folder = recipe.run_root / "release" / "long"
    assert lines[0].startswith(f"dry run: would upload {folder} to me/t-long")
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["README.md", "chat_template.jinja", "config.json", "generation_config.json",
                     "model.safetensors", "pareto.png", "tokenizer.json", "tokenizer_config.json"]
    assert [ln.split()[0] for ln in lines[1:]] == files
    gen = json.loads((folder / "generation_config.json").read_text())
    assert gen["temperature"] == 0.6 and gen["top_p"] == 0.95 and gen["do_sample"] is True
    card = (folder / "README.md").read_text()
    assert "| heldout | 50.0 [45.0, 55.0] | 50 | 0% | 200 | 4 |" in card
    assert "heldout.acc = 0.5 meets >= 0.3" in card and "Shortest correct teacher samples." in card
    assert "Intended use and limits" in card and "teacher some-org/teacher" in card
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(folder).chat_template  # loads, with its chat template
    from huggingface_hub import ModelCard

    parsed = ModelCard.load(folder / "README.md")  # the Hub's own parser reads the model-index back
    acc = {(r.dataset_name, r.metric_type): r.metric_value for r in parsed.data.eval_results}
    assert acc == {("heldout", "accuracy"): 50.0, ("heldout", "mean_tokens"): 50.0, ("heldout", "truncated"): 0.0}
    assert parsed.data.model_name == "me/t-long" and "distillation" in parsed.data.tags


def test_card_sampling_is_the_eval_configs():
    from huggingface_hub import ModelCard

    from eval.card import recommended_sampling, render_card
    from tests.eval.helpers import metrics

    info = {"label": "long", "repo_id": "me/t-long", "recipe": "t", "teacher": "teacher x", "lineage": "sft",
            "student_config": {}, "results": {"aime24_r1": metrics(0.3, 900.0, truncated=0.1, k=8)},
            "gate": {"passed": True, "reasons": []}, "datasets": {}, "stages": {}, "versions": {},
            "eval_config": {"temperature": 0.7, "top_p": 0.8, "k": 8, "max_gen_toks": 4096},
            "task_datasets": {"aime24_r1": "Maxwell-Jia/AIME_2024"}, "dataset_repos": ["me/t-sft"]}
    card = ModelCard(str(render_card(info)))
    assert "temperature 0.7, top-p 0.8" in card.text and "0.6" not in card.text
    assert recommended_sampling(info["eval_config"]) == {"do_sample": True, "temperature": 0.7, "top_p": 0.8}
    assert recommended_sampling({"temperature": 0.0}) == {"do_sample": False}
    (result, *_), = [[r for r in card.data.eval_results if r.metric_type == "accuracy"]]
    assert (result.dataset_type, result.metric_value, result.metric_args["ci95"]) == ("Maxwell-Jia/AIME_2024", 30.0,
                                                                                      [25.0, 35.0])
    assert card.data.datasets == ["me/t-sft"]


def test_missing_token_names_the_variable(tmp_path, tiny_model_dir, monkeypatch):
    recipe = published_run(tmp_path, tiny_model_dir, release={"token_env": "MY_HUB_TOKEN"})
    monkeypatch.delenv("MY_HUB_TOKEN", raising=False)
    with pytest.raises(ReleaseRefused, match="environment variable MY_HUB_TOKEN is not set"):
        list(push_students(recipe, completed_stages(recipe)))


def test_push_to_local_hub_retries_and_repush_is_noop(tmp_path, tiny_model_dir, monkeypatch, capfd, caplog):
    caplog.set_level("WARNING", logger="eval.release")
    import huggingface_hub.constants as hub_constants

    import functools

    import huggingface_hub._commit_api as commit_api

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    # huggingface_hub retries a failed request itself (5 times, 1-8 s apart); keep that to one quick retry here
    monkeypatch.setattr(commit_api, "http_backoff",
                        functools.partial(commit_api.http_backoff, max_retries=1, base_wait_time=0.01))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with LocalHub(TOKEN) as hub:
        recipe = published_run(tmp_path, tiny_model_dir, release={"endpoint": hub.url, "private": True})
        hub.state.drop_commits = 2  # connection lost twice: huggingface_hub gives up, release.py retries the upload
        first = list(push_students(recipe, completed_stages(recipe), backoff_s=0.01))
        repo = hub.state.repos["me/t-long"]
        assert first[0].startswith("pushed me/t-long@main (private)")
        assert sum("/commit/main" in c for c in hub.state.calls) == 3 and len(repo["commits"]) == 1
        assert "upload_folder failed (RemoteProtocolError); retry 1 of 3" in caplog.text
        assert repo["private"] and "model.safetensors" in repo["files"] and "README.md" in repo["files"]
        local = (recipe.run_root / "release" / "long" / "model.safetensors").read_bytes()
        assert repo["files"]["model.safetensors"] == local
        again = list(push_students(recipe, completed_stages(recipe), backoff_s=0.01))
        assert again[0].startswith("unchanged me/t-long@main") and len(repo["commits"]) == 1
    out, err = capfd.readouterr()
    logs = out + err + caplog.text + "\n".join(first + again)
    assert TOKEN not in logs
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert leaked == []


SFT_ROWS = [{"messages": [{"role": "user", "content": f"What is {i} + {i}?"},
                          {"role": "assistant", "content": f"<think>{i} + {i} = {2 * i}</think>{2 * i}"}]}
            for i in range(5)]


def test_dataset_dry_run_writes_parquet_and_card(tmp_path, tiny_model_dir):
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    from eval.release_datasets import push_datasets

    recipe = published_run(tmp_path, tiny_model_dir, datasets={"sft": SFT_ROWS, "pairs": []})
    lines = list(push_datasets(recipe, completed_stages(recipe), dry_run=True))
    folder = recipe.run_root / "release" / "datasets" / "sft"
    assert lines[0] == "skipped dataset pairs: 0 rows"
    assert lines[1] == f"dry run: would upload {folder} to dataset me/t-sft (revision main, private, 5 rows)"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == ["README.md", "data/train-00000-of-00001.parquet", "lengths.png"]
    assert [ln.split()[0] for ln in lines[2:]] == files
    card = DatasetCard.load(folder / "README.md")
    assert card.data.pretty_name == "sft" and card.data.configs[0]["data_files"][0]["split"] == "train"
    assert "Shortest correct teacher samples." in card.text
    loaded = load_dataset(str(folder), split="train")  # as a user loads the released repo: the card's configs
    assert loaded.num_rows == 5 and loaded[3]["messages"] == SFT_ROWS[3]["messages"]
    assert not (recipe.run_root / "release" / "datasets" / "pairs").exists()


def test_dataset_push_to_local_hub_and_repush_is_noop(tmp_path, tiny_model_dir, monkeypatch):
    import huggingface_hub.constants as hub_constants

    from eval.release_datasets import push_datasets

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with LocalHub(TOKEN) as hub:
        recipe = published_run(tmp_path, tiny_model_dir, release={"endpoint": hub.url, "private": False},
                               datasets={"sft": SFT_ROWS})
        first = list(push_datasets(recipe, completed_stages(recipe), backoff_s=0.01))
        assert first[0].startswith("pushed dataset me/t-sft@main (public)")
        repo = hub.state.repos["datasets/me/t-sft"]
        assert not repo["private"] and "me/t-sft" not in hub.state.repos  # a dataset repo, not a model repo
        folder = recipe.run_root / "release" / "datasets" / "sft"
        assert repo["files"]["data/train-00000-of-00001.parquet"] == (folder / "data" / PARQUET_NAME).read_bytes()
        assert b"pretty_name: sft" in repo["files"]["README.md"]
        again = list(push_datasets(recipe, completed_stages(recipe), backoff_s=0.01))
        assert again[0].startswith("unchanged dataset me/t-sft@main") and len(repo["commits"]) == 1


PARQUET_NAME = "train-00000-of-00001.parquet"


def test_dataset_push_refuses_without_a_datasets_stage(tmp_path, tiny_model_dir):
    from eval.release_datasets import push_datasets

    recipe = published_run(tmp_path, tiny_model_dir)
    next(recipe.run_root.glob("datasets-*/manifest.json")).unlink()
    with pytest.raises(ReleaseRefused, match="no complete datasets stage"):
        list(push_datasets(recipe, completed_stages(recipe), dry_run=True))


def test_cli_push_datasets_dry_run(tmp_path, tiny_model_dir):
    from typer.testing import CliRunner

    from factory.cli import app

    recipe = published_run(tmp_path, tiny_model_dir, datasets={"sft": SFT_ROWS})
    result = CliRunner().invoke(app, ["push", str(recipe._source), "--datasets", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would upload" in result.output and "to dataset me/t-sft" in result.output
    assert "data/train-00000-of-00001.parquet" in result.output
