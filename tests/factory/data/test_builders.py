"""Each builder on the hand-made sample set (see handmade.py); expected outputs are worked out by hand."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from factory.data import pairs, rejection, rl_pool, shortest
from factory.data.config import PairsConfig, RLPoolConfig, SFTDataConfig
from factory.data.samples import ShardOrderError, iter_groups
from tests.factory.data.handmade import SAMPLES, prompt_rows, write_stage_inputs


@pytest.fixture
def groups(tmp_path):
    _, verified = write_stage_inputs(tmp_path)
    prompts = {r["prompt_id"]: r for r in prompt_rows()}
    files = sorted((verified / "samples").glob("*.jsonl"))
    return [g for g in iter_groups(files, prompts) if g.prompt_id != "pE"]


def _picked(rows):
    return [(r["prompt_id"], r["sample_idx"]) for r in rows]


def test_rejection_sampling_r1_filters_and_cap(groups):
    drops = Counter()
    rows = list(rejection.build(groups, SFTDataConfig(max_per_prompt=2, max_paragraph_chars=40), drops))
    assert _picked(rows) == [("pA", 0), ("pA", 1), ("pC", 2), ("pD", 0)]
    assert drops == Counter({"not_correct": 6, "mixed_language": 1, "long_paragraph": 1, "code_in_non_code": 1, "over_cap": 1})
    assert rows[1]["messages"] == [{"role": "user", "content": "question pA"},
                                   {"role": "assistant", "content": "<think>step one\n\nstep two</think>42"}]
    assert rows[1]["completion_tokens"] == 40


def test_rejection_filters_can_be_switched_off(groups):
    drops = Counter()
    cfg = SFTDataConfig(max_per_prompt=8, max_paragraph_chars=40, drop_mixed_language=False, drop_code_in_non_code=False)
    rows = list(rejection.build(groups, cfg, drops))
    assert _picked(rows) == [("pA", 0), ("pA", 1), ("pA", 3), ("pA", 4), ("pC", 0), ("pC", 2), ("pD", 0)]


def test_shortest_correct_by_tokens(groups):
    drops = Counter()
    rows = list(shortest.build(groups, drops))
    assert [(r["prompt_id"], r["sample_idx"], r["completion_tokens"]) for r in rows] == [
        ("pA", 1, 40), ("pC", 0, 10), ("pD", 0, 30)]
    assert drops == Counter({"no_correct": 1})


def test_pairs_kimi_and_flash(groups):
    drops = Counter()
    rows = list(pairs.build(groups, PairsConfig(kinds=["kimi", "flash"], length_ratio=1.5, max_pairs_per_prompt=2),
                            drops))
    got = [(r["prompt_id"], r["pair_kind"], r["chosen_tokens"], r["rejected_tokens"]) for r in rows]
    assert got == [("pA", "kimi", 40, 100), ("pA", "kimi", 40, 70), ("pA", "flash", 40, 30),
                   ("pD", "kimi", 30, 25), ("pD", "flash", 30, 25)]
    assert drops == Counter({"no_correct": 1, "kimi_over_cap": 1, "kimi_no_rejected": 1, "flash_no_short_incorrect": 1})
    first = rows[0]
    assert first["prompt"] == [{"role": "user", "content": "question pA"}]
    assert [m["role"] for m in first["chosen"] + first["rejected"]] == ["assistant", "assistant"]


def test_pairs_kimi_only_with_larger_ratio(groups):
    drops = Counter()
    rows = list(pairs.build(groups, PairsConfig(kinds=["kimi"], length_ratio=2.0, max_pairs_per_prompt=4), drops))
    # pA: chosen 40 tok; 100 >= 80 is too long, 70 is not; the wrong 30-token sample is rejected too.
    assert [(r["prompt_id"], r["rejected_tokens"]) for r in rows] == [("pA", 100), ("pA", 30), ("pD", 25)]


def test_rl_pool_window_and_orders(groups):
    drops = Counter()
    rows = list(rl_pool.build(groups, RLPoolConfig(), drops))
    assert [(r["prompt_id"], r["pass_rate"]) for r in rows] == [("pA", 0.8), ("pD", 0.5)]
    assert drops == Counter({"too_hard": 1, "too_easy": 1})  # pB 0/3, pC 3/3 (the unjudged sample counts nowhere)
    assert rows[0]["prompt"] == [{"role": "user", "content": "question pA"}]
    assert rows[0]["gold"] == "42" and rows[0]["task"] == "procedural:basic_arithmetic"
    assert json.loads(rows[0]["metadata"]) == {"k": "pA"}

    hard_first = list(rl_pool.build(groups, RLPoolConfig(order="failure_priority"), Counter()))
    assert [r["prompt_id"] for r in hard_first] == ["pD", "pA"]
    narrow = Counter()
    assert [r["prompt_id"] for r in rl_pool.build(groups, RLPoolConfig(min_pass_rate=0.6), narrow)] == ["pA"]
    assert narrow["too_hard"] == 2


def test_split_prompt_across_shards_is_an_error(tmp_path):
    shard = tmp_path / "s.jsonl"
    rows = [SAMPLES[0], SAMPLES[5], SAMPLES[1]]  # pA, pB, pA again
    shard.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ShardOrderError, match="pA"):
        list(iter_groups([shard], {}))


@pytest.mark.parametrize("order", ["curriculum", "failure_priority", "none"])
def test_arrow_sort_matches_python_order(order):
    import datasets

    rows = [{"prompt_id": p, "pass_rate": r} for p, r in [("b", 0.5), ("a", 0.5), ("c", 0.9), ("d", 0.1)]]
    expected = [r["prompt_id"] for r in rl_pool.ordered(rows, order)]
    assert rl_pool.sort_dataset(datasets.Dataset.from_list(rows), order)["prompt_id"] == expected


def test_assistant_turn_is_the_teachers_completion_verbatim():
    """Whitespace around the tags is the teacher's format: rebuilding the turn from the stripped fields
    taught the micro teacher's own SFT round a format it never wrote (it then lost 8+ points)."""
    from factory.data.samples import assistant_text

    sample = {"completion": "<think>\nWe need 5+3.\n</think>\n8", "reasoning": "We need 5+3.", "answer": "8"}
    assert assistant_text(sample) == "<think>\nWe need 5+3.\n</think>\n8"
    broken = {"completion": "We need 5+3.</think>8", "reasoning": "We need 5+3.", "answer": "8"}
    assert assistant_text(broken) == "<think>We need 5+3.</think>8"
