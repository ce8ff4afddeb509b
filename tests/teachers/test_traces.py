"""The micro teacher's programmatic chains of thought: deterministic, scored right (or wrong on purpose)
by reasoning-gym, of varied length, and with every digit one token; the "overthink" design's statistics
(the issue #18 bars) measured on the generator itself."""

from __future__ import annotations

import random

import pytest

from teachers.traces import DETOUR_KINDS, TraceStyle, overthink_lines, parse_addition, trace_for_item, write_trace

# the new design as run I probed it (0..4 detours) and as recipes/micro.yaml's teacher uses it (run J)
OVERTHINK = TraceStyle(min_checks=0, max_checks=4, error_rate=0.1, design="overthink")
RECIPE = TraceStyle(min_checks=3, max_checks=4, error_rate=0.1, design="overthink", direct_rate=0.4)
CHECKED = TraceStyle(min_checks=0, max_checks=5, error_rate=0.1)  # the first micro teacher

TASK = dict(min_terms=2, max_terms=2, min_digits=2, max_digits=2, operators=["+"],
            allow_parentheses=False, allow_negation=False)


@pytest.fixture(scope="module")
def dataset():
    import reasoning_gym

    return reasoning_gym.create_dataset("basic_arithmetic", size=1000, seed=3, **TASK)


def final_answer(completion: str) -> str:
    reasoning, answer = completion.split("</think>")
    assert reasoning.startswith("<think>\n") and reasoning.count("<think>") == 1
    return answer


def test_traces_are_deterministic_given_seed(dataset):
    first = [trace_for_item(x, 7).completion for x in list(dataset)[:50]]
    again = [trace_for_item(x, 7).completion for x in list(dataset)[:50]]
    other = [trace_for_item(x, 8).completion for x in list(dataset)[:50]]
    assert first == again
    assert first != other


def test_answers_match_gold_except_the_configured_share_of_wrong_ones(dataset):
    style = TraceStyle(min_checks=0, max_checks=4, error_rate=0.2)
    traces = [trace_for_item(x, 1, style) for x in dataset]
    scores = [dataset.score_answer(final_answer(t.completion), x) for t, x in zip(traces, dataset)]
    assert all(s == (0.0 if t.wrong else 1.0) for s, t in zip(scores, traces))
    wrong_share = 1 - sum(scores) / len(scores)
    assert 0.15 < wrong_share < 0.25


def test_no_errors_when_error_rate_is_zero(dataset):
    traces = [trace_for_item(x, 1, TraceStyle(error_rate=0.0, caught_slip_rate=0.5)) for x in dataset]
    assert all(dataset.score_answer(final_answer(t.completion), x) == 1.0 for t, x in zip(traces, dataset))


def test_check_count_follows_the_range_and_makes_lengths_vary(dataset):
    style = TraceStyle(min_checks=1, max_checks=3, error_rate=0.1)
    traces = [trace_for_item(x, 2, style) for x in dataset]
    assert {t.checks for t in traces} == {1, 2, 3}
    assert all(("Wait" in t.reasoning or "Hmm" in t.reasoning or "restate" in t.reasoning) for t in traces)
    lengths = [len(t.completion) for t in traces]
    assert max(lengths) >= 2 * min(lengths)
    # one prompt, many seeds: the same question gets traces of different lengths
    one = [len(write_trace("Calculate 57 + 65.", random.Random(s), style).completion) for s in range(20)]
    assert max(one) >= 1.5 * min(one)


def test_digits_tokenize_one_per_token(dataset):
    from students.tiny import build_tokenizer

    traces = [trace_for_item(x, 1) for x in list(dataset)[:300]]
    tok = build_tokenizer([t.completion for t in traces], vocab_size=400)
    for t in traces[:50]:
        pieces = tok.convert_ids_to_tokens(tok(t.completion)["input_ids"])
        assert all(len(p.strip("Ġ")) <= 1 for p in pieces if any(c.isdigit() for c in p))
        n_digits = sum(c.isdigit() for c in t.completion)
        assert sum(p.strip("Ġ").isdigit() for p in pieces) == n_digits


def test_unsupported_question_says_what_to_configure():
    assert parse_addition("Calculate 12 + 7.") == (12, 7)
    with pytest.raises(ValueError, match="allow_negation"):
        parse_addition("Calculate -( 32 + -75 ).")


def test_overthink_traces_meet_the_length_bars_the_checked_ones_miss(dataset):
    from teachers.bootstrap import trace_stats

    questions = [x["question"] for x in list(dataset)[:120]]
    old = trace_stats(CHECKED, questions)
    for new in (trace_stats(OVERTHINK, questions), trace_stats(RECIPE, questions)):
        assert new["median_longest_over_shortest_correct"] >= 3.0  # the median prompt's longest right >= 3x shortest
        assert new["no_detour_share_of_mean"] <= 0.40  # a trace with no detours is <= 40 % of the mean
        assert new["max_tokens"] < 400  # within the recipe's generation max_tokens
        assert new["shortest_correct_over_long_data"] < old["shortest_correct_over_long_data"] - 0.08
    assert old["no_detour_share_of_mean"] > 0.45  # the mandatory verbose pass of the first design: ~49 % of the mean


def test_redundant_detours_never_change_the_answer(dataset):
    for x in list(dataset)[:200]:
        a, b = parse_addition(x["question"])
        top = max(len(str(a)), len(str(b))) - 1
        for slip in (None, (0, 1), (top, -1)):
            answers = {overthink_lines(a, b, slip, kinds)[1]
                       for kinds in ([], ["redo"], ["swap", "redo", "swap"], list(DETOUR_KINDS) * 2)}
            assert len(answers) == 1
            assert (answers.pop() == a + b) == (slip is None)


def test_overthink_correctness_does_not_depend_on_trace_length(dataset):
    traces = [trace_for_item(x, f"s{s}", OVERTHINK) for x in dataset for s in range(3)]
    assert all(dataset.score_answer(final_answer(t.completion), x) == (0.0 if t.wrong else 1.0)
               for t, x in zip(traces, [x for x in dataset for _ in range(3)]))
    by_checks = {k: [t.wrong for t in traces if t.checks == k] for k in range(5)}
    assert all(len(v) > 400 for v in by_checks.values())  # every detour count is drawn
    wrong = [sum(v) / len(v) for v in by_checks.values()]
    assert max(wrong) - min(wrong) < 0.06 and all(0.05 < w < 0.15 for w in wrong)  # ~10 % at every length
    assert not any("mistake" in t.reasoning for t in traces)  # no caught slips: length never buys a fix


def test_unknown_design_is_named():
    with pytest.raises(ValueError, match="unknown design 'r2'"):
        write_trace("Calculate 1 + 2.", random.Random(0), TraceStyle(design="r2"))


def test_direct_rate_adds_answers_with_no_detour(dataset):
    items = list(dataset)[:600]
    bimodal = TraceStyle(min_checks=3, max_checks=4, error_rate=0.1, design="overthink", direct_rate=0.4)
    counts = [trace_for_item(x, 5, bimodal).checks for x in items]
    assert set(counts) == {0, 3, 4} and 0.34 < counts.count(0) / len(counts) < 0.46
    traces = [trace_for_item(x, 5, bimodal) for x in items]
    plain = [t.wrong for t in traces if t.checks == 0]
    assert 0.04 < sum(plain) / len(plain) < 0.16  # a direct answer is as often wrong as any other
