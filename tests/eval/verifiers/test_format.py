"""split_think: format, truncation, and the template-opened <think> form."""

from eval.verifiers import split_think
from eval.verifiers.format import final_answer, last_boxed


def test_well_formed_completion_splits_into_reasoning_and_answer():
    assert split_think("<think>2+2 is 4</think>\n\nThe answer is 4.") == ("2+2 is 4", "The answer is 4.", True, False)


def test_no_closing_tag_is_truncated_and_has_no_answer_even_if_reasoning_has_one():
    reasoning, answer, ok, truncated = split_think("<think>so the answer is \\boxed{4}")
    assert (answer, ok, truncated) == ("", False, True)
    assert reasoning == "so the answer is \\boxed{4}"


def test_template_opened_think_is_accepted():
    assert split_think("let me see, 4</think>\\boxed{4}") == ("let me see, 4", "\\boxed{4}", True, False)


def test_malformed_forms_are_not_format_ok_but_keep_the_final_answer():
    assert split_think("<think>a</think>") == ("a", "", False, False)  # empty answer
    assert split_think("<think>a</think>x</think>5")[1:] == ("5", False, False)  # two closings
    assert split_think("<think>a</think><think>b</think>5")[2] is False  # two thinks
    assert split_think("preamble <think>a</think>5")[2] is False  # text before <think>


def test_last_boxed_takes_the_last_balanced_box():
    assert last_boxed("\\boxed{3} no wait \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert last_boxed("\\boxed{}") == ""
    assert last_boxed("no box") is None
    assert last_boxed("\\boxed{3} then \\boxed{4") == ""  # cut inside the last box: no final answer
    assert final_answer("  The answer is 7.  ") == "The answer is 7."
