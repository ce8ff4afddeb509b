"""Math verifier: math-verify's verdict on the answer text, the traps a home-made fast path fell into, the caches,
the deadline."""

import pytest

import eval.verifiers.math as vmath
from eval.verifiers import judge
from eval.verifiers.deadline import DeadlineExceeded


def math_prompt(gold: str) -> dict:
    return {"prompt_id": f"p-{gold}", "prompt": "Compute it.", "gold": gold, "task": "math", "metadata": {}}


@pytest.fixture(autouse=True)
def fresh_caches():
    vmath.clear_caches()
    yield
    vmath.clear_caches()


@pytest.mark.parametrize(
    "gold, completion, correct",
    [
        ("\\frac{1}{2}", "<think>half</think>\\boxed{0.5}", True),
        ("0.5", "<think>half</think>\\boxed{\\frac12}", True),
        ("\\frac12", "<think>half</think>The answer is 1/2", True),
        ("-4", "<think>x</think>\\boxed{4}", False),
        ("\\frac{\\sqrt{2}}{2}", "<think>x</think>\\boxed{\\frac{1}{\\sqrt{2}}}", True),
        ("x^2+2x+1", "<think>x</think>\\boxed{(x+1)^2}", True),
        ("x^2+1", "<think>x</think>\\boxed{x^2-1}", False),
        ("2x+3", "<think>x</think>\\boxed{2}", False),  # a bare symbolic gold is one LaTeX answer, not "2"
        ("(1,2]", "<think>x</think>\\boxed{(1, 2]}", True),
        ("1/3", "<think>x</think>\\boxed{0.25}", False),
        # math-verify reads every box and the final-answer sentence, not the last box or the last $...$
        ("(2, 2), (6, 2)", "<think>x</think>\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}", True),
        ("$${1,2,3}$$", "<think>x</think>\\boxed{1},\\boxed{2},\\boxed{3}", True),
        ("34", "<think>x</think>Final Answer: The largest $n$ is 34.", True),
        ("1,22", "<think>x</think>1.22", True),  # a decimal-comma gold is 1.22, not the list {1, 22}
        ("10455", "<think>x</think>The total is $10,455.", True),
    ],
)
def test_hand_checked_math_verdicts(gold, completion, correct):
    verdict = judge(completion, math_prompt(gold))
    assert verdict["correct"] is correct, verdict
    assert verdict["verifier"] == "math"


# Wrong answers a float-tolerance / string-munging fast path called right (issue 13): all must stay wrong.
@pytest.mark.parametrize("gold, answer", [
    ("2^{100}", "\\boxed{2^{100}-1}"), ("$2^{100}-1$", "\\boxed{2^{100}}"),
    ("2^{100}", f"\\boxed{{{2**100 - 1}}}"), ("10^{15}", "\\boxed{10^{15}+1}"),
    ("10^{15}", "\\boxed{1000000000000001}"),
    ("20", "\\boxed{2^10}"), ("0", "\\boxed{2^10}"), ("-2", "\\boxed{3\u20135}"), ("3-5", "\\boxed{3\u20135}"),
    ("x \\leftarrow 3", "\\boxed{x \\rightarrow 3}"), ("\\leftarrow", "\\boxed{\\rightarrow}"),
    ("1", "\\boxed{2\\frac12}"),
    ("32349", "\\boxed{32, 349}"), ("\\frac{1}{3}", "\\boxed{0.3333}"),
])
def test_wrong_answers_stay_wrong(gold, answer):
    assert vmath.judge_math(answer, gold)["correct"] is False
    assert vmath.reference_equal(gold, answer) is False


@pytest.mark.parametrize("gold, answer", [
    ("2^{100}", f"\\boxed{{{2**100}}}"), ("1024", "\\boxed{2^10}"), ("\\frac{5}{2}", "\\boxed{2\\frac12}"),
    ("32349", "\\boxed{32,\\! 349}"), ("\\frac{1}{3}", "\\boxed{0.333333}"), ("10\\%", "\\boxed{0.1}"),
])
def test_right_answers_math_verify_accepts(gold, answer):
    assert vmath.judge_math(answer, gold)["correct"] is True
    assert vmath.reference_equal(gold, answer) is True


def test_cache_key_is_the_exact_text_so_order_never_matters():
    right, wrong = "\\boxed{32,\\! 349}", "\\boxed{32, 349}"
    first = [vmath.judge_math(a, "32349")["correct"] for a in (right, wrong)]
    vmath.clear_caches()
    second = [vmath.judge_math(a, "32349")["correct"] for a in (wrong, right)]
    assert first == [True, False] and second == [False, True]


def test_fast_path_and_caches_skip_math_verify(monkeypatch):
    calls = []
    real = vmath._slow_verdict
    monkeypatch.setattr(vmath, "_slow_verdict", lambda g, a: calls.append(a) or real(g, a))
    assert vmath.judge_math("So the answer is $\\boxed{\\dfrac{2}{4}}$.", "\\frac{1}{2}")["reason"] == "equal numbers"
    assert vmath.judge_math("\\boxed{3}", "\\frac{1}{2}") == {"correct": False, "reason": "wrong answer",
                                                               "verifier": "math"}
    assert calls == []
    first = vmath.judge_math("\\boxed{(x+1)^2}", "x^2+2x+1")
    again = vmath.judge_math("\\boxed{(x+1)^2}", "x^2+2x+1")  # same text: first cache
    assert first == again and first["correct"] is True and len(calls) == 1
    parse_calls = len(vmath._form_cache)
    assert vmath.judge_math("$\\boxed{(x+1)^2}$", "x^2+2x+1")["correct"] is True  # same parsed form
    assert len(calls) == 2 and len(vmath._form_cache) == parse_calls


def test_timeout_gives_undecided_verdict_and_is_not_cached(monkeypatch):
    def too_slow(fn, args, timeout_s):
        raise DeadlineExceeded("deadline exceeded")

    monkeypatch.setattr(vmath, "call_with_deadline", too_slow)
    verdict = vmath.judge_math("\\boxed{\\sin(x)^2+\\cos(x)^2}", "1")
    assert verdict == {"correct": None, "reason": "timeout", "verifier": "math"}
    assert vmath._cache == {}


def test_unparseable_gold_is_undecided():
    verdict = vmath.judge_math("\\boxed{\\sqrt{5}}", "")
    assert verdict == {"correct": None, "reason": "gold not parseable", "verifier": "math"}


def test_no_answer_is_wrong():
    assert vmath.judge_math("I could not solve it.", "4") == {"correct": False, "reason": "no answer found",
                                                               "verifier": "math"}


def test_answer_only_inside_think_is_truncated_not_scored():
    verdict = judge("<think>the answer is \\boxed{4}", math_prompt("4"))
    assert verdict == {"correct": False, "reason": "truncated", "verifier": "math"}


def test_answer_inside_think_but_other_answer_after_is_judged_on_the_answer():
    assert judge("<think>\\boxed{4}</think>\\boxed{5}", math_prompt("4"))["correct"] is False


def test_format_rule_can_be_switched_off():
    completion = "<think>a</think><think>b</think>\\boxed{4}"
    assert judge(completion, math_prompt("4"))["reason"] == "format"
    assert judge(completion, math_prompt("4"), {"format": False})["correct"] is True


def test_unknown_task_is_a_clear_error():
    with pytest.raises(ValueError, match="prompt task 'poetry' has no verifier"):
        judge("<think>a</think>b", {"task": "poetry", "gold": "x"})


def test_a_math_span_math_verify_cannot_parse_is_judged_on_the_whole_text():
    # `$3–5$` alone reads as [3, "3–5"] (the `$3` currency number after the span fails); in this text it does not
    for answer in ("= = final answer is $$3\u20135$$", "x \n k=2 \\[3\u20135\\]", "So $\\boxed{3\u20135}$."):
        assert vmath.judge_math(answer, "3")["correct"] is vmath.reference_equal("3", answer) is False
