"""The prompts stage on files shaped like MATH-500, AIME, NuminaMath and LiveCodeBench, and on reasoning-gym."""

from __future__ import annotations

import json

import pytest

from core.atomic import read_jsonl
from factory.data.prompts import run
from factory.data.sources import SourceError, prompt_id

AIME_LONG = ("Let N be the greatest four digit positive integer with the property that whenever one of its digits "
             "is changed to 1 the resulting number is divisible by 7.")
MATH500 = [
    {"problem": "What is $\\frac{1}{2} + \\frac{1}{4}$?", "solution": "...", "answer": "\\frac{3}{4}",
     "subject": "Algebra", "level": 1, "unique_id": "test/algebra/1.json"},
    {"problem": "Compute $\\dbinom{5}{2}$.", "solution": "...", "answer": "10",
     "subject": "Counting", "level": 2, "unique_id": "test/counting/2.json"},
]
AIME = [{"ID": "2024-I-1", "Year": 2024, "Problem": AIME_LONG + " Find N mod 1000.", "Answer": 699}]
NUMINA = [
    {"source": "olympiads", "problem": "Find x if 2x = 10.", "solution": "x = \\boxed{5}"},
    {"source": "olympiads", "problem": "find  X if 2x = 10.", "solution": "dup after normalization"},
    {"source": "cn_k12", "problem": "what is $\\frac{1}{2} +   \\frac{1}{4}$?", "solution": "exact copy of MATH-500"},
    {"source": "aops", "problem": "Consider this: " + AIME_LONG + " What is N?", "solution": "13-gram overlap"},
    {"source": "amc", "problem": "How many primes are below 20?", "solution": "\\boxed{8}"},
]
LCB = [{"question_title": "Add", "question_content": "Read two integers and print their sum.",
        "platform": "atcoder", "starter_code": "",
        "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}])}]


def _write(tmp_path):
    import datasets

    (tmp_path / "math500.jsonl").write_text("".join(json.dumps(r) + "\n" for r in MATH500))
    (tmp_path / "lcb.jsonl").write_text("".join(json.dumps(r) + "\n" for r in LCB))
    datasets.Dataset.from_list(AIME).to_parquet(str(tmp_path / "aime.parquet"))
    hub_dir = tmp_path / "hub_numina" / "data"
    hub_dir.mkdir(parents=True)
    datasets.Dataset.from_list(NUMINA).to_parquet(str(hub_dir / "train-00000-of-00001.parquet"))


def _config(tmp_path):
    return {"prompts": {
        "sources": [
            {"kind": "hub", "name": "numina", "hub_id": str(tmp_path / "hub_numina"), "split": "train",
             "columns": {"prompt": "problem", "gold": "solution", "origin": "source"}},
            {"kind": "jsonl", "name": "lcb", "path": "lcb.jsonl", "task": "code",
             "columns": {"prompt": "question_content", "gold": "public_test_cases", "starter_code": "starter_code"}},
        ],
        "eval_sets": [
            {"kind": "jsonl", "name": "math500", "path": "math500.jsonl", "columns": {"prompt": "problem", "gold": "answer"}},
            {"kind": "parquet", "name": "aime", "path": "aime.parquet", "columns": {"prompt": "Problem", "gold": "Answer"}},
        ],
        "decontaminate_ngram": 13}, "seed": 0}


def test_file_and_hub_sources_are_mapped_deduped_and_decontaminated(tmp_path, make_ctx):
    _write(tmp_path)
    ctx = make_ctx("prompts", _config(tmp_path))
    summary = run(ctx)

    train = read_jsonl(ctx.out / "train.jsonl")
    assert [r["prompt"] for r in train] == ["Find x if 2x = 10.", "How many primes are below 20?",
                                            "Read two integers and print their sum."]
    assert summary["sources"]["numina"] == {"loaded": 5, "kept": 2, "empty": 0, "duplicate": 1,
                                            "contaminated_exact": 1, "contaminated_ngram": 1}
    assert summary["dropped"] == {"contaminated_exact": 1, "contaminated_ngram": 1, "duplicate": 1, "empty": 0}
    assert summary["train"] == 3 and summary["eval"] == {"math500": 2, "aime": 1}

    first = train[0]
    assert first == {"prompt_id": prompt_id("numina", "Find x if 2x = 10."), "source": "numina",
                     "prompt": "Find x if 2x = 10.", "gold": "x = \\boxed{5}", "task": "math", "split": "train",
                     "metadata": {"origin": "olympiads"}}
    code = train[2]
    assert code["task"] == "code" and code["metadata"] == {"starter_code": ""}
    assert json.loads(code["gold"])[0]["output"] == "3\n"

    aime = read_jsonl(ctx.out / "eval" / "aime.jsonl")
    assert aime[0]["gold"] == "699" and aime[0]["split"] == "eval" and aime[0]["source"] == "aime"
    math500 = read_jsonl(ctx.out / "eval" / "math500.jsonl")
    assert [r["gold"] for r in math500] == ["\\frac{3}{4}", "10"]


def test_reasoning_gym_source_and_eval_set(make_ctx):
    task_cfg = {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1, "operators": ["+"]}
    config = {"prompts": {
        "sources": [{"kind": "reasoning_gym", "name": "add", "dataset": "basic_arithmetic", "size": 60, "seed": 1,
                     "config": task_cfg}],
        "eval_sets": [{"kind": "reasoning_gym", "name": "heldout", "dataset": "basic_arithmetic", "size": 20,
                       "seed": 2, "config": task_cfg}]}, "seed": 0}
    ctx = make_ctx("prompts", config)
    summary = run(ctx)
    train = read_jsonl(ctx.out / "train.jsonl")
    heldout = read_jsonl(ctx.out / "eval" / "heldout.jsonl")

    assert len(heldout) == 20
    eval_texts = {r["prompt"] for r in heldout}
    assert not eval_texts & {r["prompt"] for r in train}
    counts = summary["sources"]["add"]
    assert counts["loaded"] == 60 and counts["kept"] == len(train)
    assert counts["contaminated_exact"] + counts["duplicate"] == 60 - len(train) > 0  # 1-digit sums repeat
    row = train[0]
    assert row["task"] == "procedural:basic_arithmetic" and row["source"] == "add"
    assert row["metadata"]["source_dataset"] == "basic_arithmetic"
    assert row["metadata"]["difficulty"]["num_terms"] == [2, 2]  # tuples stored as JSON lists
    assert str(eval(row["metadata"]["expression"])) == row["gold"]


def test_missing_column_names_source_and_column(tmp_path, make_ctx):
    _write(tmp_path)
    config = {"prompts": {"sources": [{"kind": "jsonl", "name": "math500", "path": "math500.jsonl",
                                       "columns": {"prompt": "question", "gold": "answer"}}]}, "seed": 0}
    with pytest.raises(SourceError) as err:
        run(make_ctx("prompts", config))
    msg = str(err.value)
    assert "\n" not in msg and "'math500'" in msg and "'question'" in msg


def test_missing_file_names_path(tmp_path, make_ctx):
    config = {"prompts": {"sources": [{"kind": "parquet", "name": "aime", "path": "nope.parquet"}]}, "seed": 0}
    with pytest.raises(SourceError, match=r"'aime'.*nope.parquet does not exist"):
        run(make_ctx("prompts", config))


def test_overlapping_reasoning_gym_seeds_are_reported(make_ctx):
    task_cfg = {"min_terms": 2, "max_terms": 2, "min_digits": 2, "max_digits": 2, "operators": ["+"]}
    config = {"prompts": {
        "sources": [{"kind": "reasoning_gym", "name": "add", "dataset": "basic_arithmetic", "size": 30, "seed": 10,
                     "config": task_cfg}],
        "eval_sets": [{"kind": "reasoning_gym", "name": "heldout", "dataset": "basic_arithmetic", "size": 10,
                       "seed": 30, "config": task_cfg}]}, "seed": 0}
    summary = run(make_ctx("prompts", config))
    assert summary["sources"]["add"]["contaminated_exact"] == 10  # items 20..29 of the source are the eval set
    assert len(summary["warnings"]) == 1 and "10 identical items" in summary["warnings"][0]
