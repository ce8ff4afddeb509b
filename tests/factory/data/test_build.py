"""The `datasets` stage end to end on the hand-made sample set: saved datasets, cards, plots, stats."""

from __future__ import annotations

import json

import datasets
import pytest

from factory.data.build import run
from tests.factory.data.handmade import SAMPLES, write_stage_inputs

CONFIG = {"datasets": {"sft": {"max_per_prompt": 2, "max_paragraph_chars": 40},
                       "pairs": {"kinds": ["kimi", "flash"], "length_ratio": 1.5, "max_pairs_per_prompt": 2},
                       "rl_pool": {"min_pass_rate": 0.0, "max_pass_rate": 1.0, "order": "curriculum"}},
          "seed": 0}


def test_stage_writes_every_dataset_with_card_and_stats(tmp_path, make_ctx):
    prompts, verified = write_stage_inputs(tmp_path)
    ctx = make_ctx("datasets", CONFIG, {"prompts": prompts, "verified": verified})
    summary = run(ctx)

    sft = datasets.load_from_disk(str(ctx.out / "sft"))
    assert [(r["prompt_id"], r["sample_idx"]) for r in sft] == [("pA", 0), ("pA", 1), ("pC", 2), ("pD", 0)]
    assert sft[0]["messages"][1] == {"role": "assistant", "content": "<think>step one\n\nstep two</think>42"}
    short = datasets.load_from_disk(str(ctx.out / "shortest"))
    assert short["completion_tokens"] == [40, 10, 30]
    prefs = datasets.load_from_disk(str(ctx.out / "pairs"))
    assert prefs["pair_kind"] == ["kimi", "kimi", "flash", "kimi", "flash"]
    assert prefs.filter(lambda r: r["pair_kind"] == "flash")["rejected_tokens"] == [30, 25]
    pool = datasets.load_from_disk(str(ctx.out / "rl_pool"))
    assert pool["prompt_id"] == ["pA", "pD"] and pool["pass_rate"] == [0.8, 0.5]

    stats = json.loads((ctx.out / "stats.json").read_text())
    assert stats == json.loads(json.dumps(summary))
    assert stats["skipped"] == {"not_a_train_prompt": 1}  # pE, an eval prompt's sample
    assert stats["samples"]["prompts"] == 4 and stats["samples"]["correct"] == 8
    assert stats["samples"]["teacher_accuracy"] == round(8 / 13, 4)
    assert stats["samples"]["median_correct_length_ratio"] == pytest.approx((100 / 40 + 12 / 10) / 2)
    assert stats["pair_kinds"] == {"kimi": 3, "flash": 2}
    assert stats["datasets"]["sft"]["rows"] == 4
    assert stats["datasets"]["sft"]["drops"]["code_in_non_code"] == 1
    assert stats["datasets"]["shortest"]["lengths"]["completion tokens"]["median"] == 30.0

    card = (ctx.out / "pairs" / "README.md").read_text()
    assert "tiny-teacher" in card and "Kimi" in card and "Sky-T1-Flash" in card
    assert "| kimi_over_cap | 1 |" in card and "**Rows:** 5" in card and "length_ratio=1.5" in card
    for name in ("sft", "shortest", "pairs", "rl_pool"):
        assert (ctx.out / name / "lengths.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (ctx.out / ".spool").exists() and not (ctx.out / ".hf_cache").exists()


def test_empty_datasets_are_written_with_columns(tmp_path, make_ctx):
    prompts, verified = write_stage_inputs(tmp_path)
    wrong = [dict(s, verdict={"correct": False, "reason": "", "verifier": "t"}) for s in SAMPLES]
    for shard in (verified / "samples").glob("*.jsonl"):
        shard.unlink()
    (verified / "samples" / "shard-00000.jsonl").write_text("".join(json.dumps(s) + "\n" for s in wrong))
    ctx = make_ctx("datasets", CONFIG, {"prompts": prompts, "verified": verified})
    summary = run(ctx)

    assert {n: d["rows"] for n, d in summary["datasets"].items()} == {"sft": 0, "shortest": 0, "pairs": 0, "rl_pool": 0}
    assert summary["datasets"]["rl_pool"]["drops"]["too_hard"] == 4
    prefs = datasets.load_from_disk(str(ctx.out / "pairs"))
    assert len(prefs) == 0 and {"prompt", "chosen", "rejected", "pair_kind"} <= set(prefs.column_names)
    assert "**Rows:** 0" in (ctx.out / "sft" / "README.md").read_text()
    assert summary["samples"]["median_correct_length_ratio"] is None


def test_missing_shards_is_a_clear_error(tmp_path, make_ctx):
    prompts, verified = write_stage_inputs(tmp_path)
    for shard in (verified / "samples").glob("*.jsonl"):
        shard.unlink()
    with pytest.raises(FileNotFoundError, match="no sample shards"):
        run(make_ctx("datasets", CONFIG, {"prompts": prompts, "verified": verified}))
