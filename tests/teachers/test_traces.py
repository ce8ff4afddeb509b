"""The micro teacher's programmatic chains of thought: deterministic, scored right (or wrong on purpose)
by reasoning-gym, of varied length, and with every digit one token."""

from __future__ import annotations

import random

import pytest

from teachers.traces import TraceStyle, parse_addition, trace_for_item, write_trace

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
