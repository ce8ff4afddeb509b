"""Math verifier: hand-checked verdicts, adversarial completions, the fast path, the cache and the deadline."""

import pytest

import eval.verifiers.math as vmath
from eval.verifiers import judge
from eval.verifiers.deadline import DeadlineExceeded


def math_prompt(gold: str) -> dict:
    return {"prompt_id": f"p-{gold}", "prompt": "Compute it.", "gold": gold, "task": "math", "metadata": {}}


@pytest.mark.parametrize(
    "gold, completion, correct",
    [
        ("\\frac{1}{2}", "<think>half</think>\\boxed{0.5}", True),
        ("0.5", "<think>half</think>\\boxed{\\frac12}", True),
        ("\\frac12", "<think>half</think>The answer is 1/2", True),
        ("-4", "<think>x</think>\\boxed{\u22124}", True),  # unicode minus
        ("-4", "<think>x</think>\\boxed{4}", False),
        ("4", "<think>x</think>\\boxed{3} hmm, no: \\boxed{4}", True),  # two boxes: the last one counts
        ("3", "<think>x</think>\\boxed{3} hmm, no: \\boxed{4}", False),
        ("\\frac{\\sqrt{2}}{2}", "<think>x</think>\\boxed{\\frac{1}{\\sqrt{2}}}", True),  # math-verify
        ("x^2+2x+1", "<think>x</think>\\boxed{(x+1)^2}", True),
        ("x^2+1", "<think>x</think>\\boxed{x^2-1}", False),
        ("(1,2]", "<think>x</think>\\boxed{(1, 2]}", True),
        ("1/3", "<think>x</think>\\boxed{0.25}", False),
    ],
)
def test_hand_checked_math_verdicts(gold, completion, correct):
    verdict = judge(completion, math_prompt(gold))
    assert verdict["correct"] is correct, verdict
    assert verdict["verifier"] == "math"


def test_answer_only_inside_think_is_truncated_not_scored():
    verdict = judge("<think>the answer is \\boxed{4}", math_prompt("4"))
    assert verdict == {"correct": False, "reason": "truncated", "verifier": "math"}


def test_answer_inside_think_but_other_answer_after_is_judged_on_the_answer():
    assert judge("<think>\\boxed{4}</think>\\boxed{5}", math_prompt("4"))["correct"] is False


def test_empty_box_is_an_empty_answer():
    assert judge("<think>x</think>\\boxed{}", math_prompt("4")) == {
        "correct": False, "reason": "empty answer", "verifier": "math"}


def test_format_rule_can_be_switched_off():
    completion = "<think>a</think><think>b</think>\\boxed{4}"
    assert judge(completion, math_prompt("4"))["reason"] == "format"
    assert judge(completion, math_prompt("4"), {"format": False})["correct"] is True


def test_fast_path_and_cache_skip_math_verify(monkeypatch):
    calls = []
    real = vmath.math_verify_equal
    monkeypatch.setattr(vmath, "math_verify_equal", lambda g, p: calls.append(p) or real(g, p))
    vmath._cache.clear()
    assert vmath.judge_math("\\boxed{\\dfrac{2}{4}}", "\\frac{1}{2}")["reason"] == "equal numbers"
    assert calls == []
    assert vmath.judge_math("\\boxed{2\\sqrt{2}}", "\\sqrt{8}")["reason"] == "equal values"
    assert calls == []
    first = vmath.judge_math("\\boxed{(x+1)^2}", "x^2+2x+1")
    second = vmath.judge_math("\\boxed{( x + 1 )^2}", "x^2+2x+1")  # same normalized answer: cached
    assert first == second and first["correct"] is True and len(calls) == 1


def test_timeout_gives_undecided_verdict_and_is_not_cached(monkeypatch):
    def too_slow(fn, args, timeout_s):
        raise DeadlineExceeded("deadline exceeded")

    monkeypatch.setattr(vmath, "call_with_deadline", too_slow)
    vmath._cache.clear()
    verdict = vmath.judge_math("\\boxed{\\sin(x)^2+\\cos(x)^2}", "1")
    assert verdict == {"correct": None, "reason": "timeout", "verifier": "math"}
    assert vmath._cache == {}


def test_unparseable_gold_is_undecided():
    verdict = vmath.judge_math("\\boxed{\\sqrt{5}}", "")
    assert verdict == {"correct": None, "reason": "gold not parseable", "verifier": "math"}


def test_unknown_task_is_a_clear_error():
    with pytest.raises(ValueError, match="prompt task 'poetry' has no verifier"):
        judge("<think>a</think>b", {"task": "poetry", "gold": "x"})
