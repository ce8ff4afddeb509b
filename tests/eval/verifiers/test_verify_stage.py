"""The verify stage on a small hand-written sample set: verdicts, flags, summary, shard handling, resume."""

import json
from pathlib import Path

import pytest

from eval.verify import run
from factory.stages import StageContext

PROMPTS = [
    {"prompt_id": "m1", "prompt": "What is 1/2 + 0?", "gold": "\\frac{1}{2}", "task": "math", "split": "train",
     "source": "hand", "metadata": {}},
    {"prompt_id": "c1", "prompt": "Add two numbers from stdin.", "task": "code", "split": "train", "source": "hand",
     "gold": {"inputs": ["1 2\n"], "outputs": ["3\n"]}, "metadata": {}},
    {"prompt_id": "p1", "prompt": "Calculate 5 - 3 - 6.", "gold": "-4", "task": "procedural:basic_arithmetic",
     "split": "train", "source": "hand",
     "metadata": {"source_dataset": "basic_arithmetic", "source_index": 0, "expression": "5 - 3 - 6"}},
]
CODE = "<think>read, add</think>```python\na, b = map(int, input().split())\nprint(a + b)\n```"
# (prompt_id, sample_idx, completion) -> expected (correct, reason, format_ok)
SHARD_0 = [
    ("m1", 0, "<think>half</think>\\boxed{0.5}", (True, "equal numbers", True)),
    ("m1", 1, "<think>so \\boxed{1/2}", (False, "truncated", False)),
    ("m1", 2, "<think>a</think><think>b</think>\\boxed{1/2}", (False, "format", False)),
    ("p1", 0, "<think>2-6</think>\\boxed{\u22124}", (True, "score 1.0", True)),
]
SHARD_1 = [
    ("p1", 1, "<think>x</think>\\boxed{-5}", (False, "score 0", True)),
    ("c1", 0, CODE, (True, "1 tests passed", True)),
    ("m1", 3, "<think>\u8ba1\u7b97\u4e00\u534a</think>\\boxed{\\frac12}", (True, "equal numbers", True)),
]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def sample_rows(spec):
    return [{"prompt_id": pid, "sample_idx": idx, "completion": c, "teacher": "t"} for pid, idx, c, _ in spec]


@pytest.fixture
def stage(tmp_path):
    gen, prompts = tmp_path / "gen", tmp_path / "prompts"
    write_jsonl(gen / "samples" / "shard-00000.jsonl", sample_rows(SHARD_0))
    write_jsonl(gen / "samples" / "shard-00001.jsonl", sample_rows(SHARD_1))
    write_jsonl(gen / "samples" / "shard-00002.partial.jsonl", sample_rows(SHARD_1))  # unfinished: ignored
    (gen / "samples" / "notes.txt").write_text("not a shard")
    write_jsonl(prompts / "train.jsonl", PROMPTS)

    def make(workers: int) -> StageContext:
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        config = {"verification": {"workers": workers, "language_threshold": 0.9, "code_timeout_s": 5}}
        return StageContext(name="verify", kind="verify", config=config, inputs={"samples": gen, "prompts": prompts},
                            out=out, recipe=None)

    return make


def test_verify_stage_judges_every_sample_and_summarizes(stage):
    ctx = stage(workers=2)
    summary = run(ctx)
    assert sorted(p.name for p in (ctx.out / "samples").iterdir()) == ["shard-00000.jsonl", "shard-00001.jsonl"]
    for name, spec in [("shard-00000.jsonl", SHARD_0), ("shard-00001.jsonl", SHARD_1)]:
        rows = [json.loads(line) for line in (ctx.out / "samples" / name).read_text().splitlines()]
        assert [(r["prompt_id"], r["sample_idx"]) for r in rows] == [(p, i) for p, i, _, _ in spec]
        for row, (_, _, _, (correct, reason, format_ok)) in zip(rows, spec):
            verdict = row["verdict"]
            assert (verdict["correct"], verdict["reason"], row["format_ok"]) == (correct, reason, format_ok)
            assert row["teacher"] == "t"
    last = json.loads((ctx.out / "samples" / "shard-00001.jsonl").read_text().splitlines()[-1])
    assert last["lang_ok"] is False  # Chinese reasoning for an English prompt
    assert summary["samples"] == 7 and summary["correct"] == 4
    assert summary["pass_rate"] == pytest.approx(4 / 7)
    assert summary["by_verifier"] == {"math": {"samples": 4, "correct": 2}, "procedural": {"samples": 2, "correct": 1},
                                      "code": {"samples": 1, "correct": 1}}
    assert summary["by_reason"]["truncated"] == 1 and summary["by_reason"]["format"] == 1
    assert summary["shards"] == 2 and summary["shards_resumed"] == 0 and summary["samples_per_s"] > 0


def test_verify_stage_resumes_by_skipping_written_shards(stage):
    ctx = stage(workers=1)
    run(ctx)
    done = ctx.out / "samples" / "shard-00000.jsonl"
    kept = done.read_text().replace('"teacher": "t"', '"teacher": "kept"')
    done.write_text(kept)
    (ctx.out / "samples" / "shard-00001.jsonl").unlink()  # as if the crash came before this shard
    summary = run(ctx)
    assert done.read_text() == kept  # not judged again
    assert (ctx.out / "samples" / "shard-00001.jsonl").exists()
    assert summary["shards_resumed"] == 1 and summary["samples"] == 7


def test_unknown_prompt_id_names_the_shard(stage, tmp_path):
    write_jsonl(tmp_path / "gen" / "samples" / "shard-00003.jsonl", [{"prompt_id": "zz", "sample_idx": 0,
                                                                      "completion": "x"}])
    with pytest.raises(ValueError, match=r"shard-00003.jsonl: sample 0: prompt_id 'zz'"):
        run(stage(workers=1))
