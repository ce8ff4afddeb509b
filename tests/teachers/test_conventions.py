"""Teacher conventions: registry errors, the swallowed <think> put back, truncation has no answer."""

from __future__ import annotations

import pytest

from teachers.conventions import complete_text, get_convention, known_conventions, render_prompt, split_completion


def test_registry_has_the_families_and_rejects_unknown_names():
    assert {"deepseek-r1", "deepseek-r1-distill", "qwq", "qwen3-thinking", "generic"} <= set(known_conventions())
    assert get_convention("deepseek-r1").sampling == {"temperature": 0.6, "top_p": 0.95}
    with pytest.raises(ValueError, match="unknown convention 'r2'.*deepseek-r1.*generic"):
        get_convention("r2")


def test_template_that_opens_think_gets_the_tag_back():
    r1 = get_convention("deepseek-r1-distill")
    stored = complete_text("7 + 5 = 12.\n</think>\n12", r1.opens_think)
    assert stored.startswith("<think>\n7 + 5")
    assert split_completion(stored) == ("7 + 5 = 12.", "12", False)
    assert complete_text("<think>x</think>1", True) == "<think>x</think>1"  # never doubled


def test_completion_cut_before_close_tag_has_no_answer():
    reasoning, answer, truncated = split_completion("<think>so the answer is 42 and")
    assert truncated and answer == "" and "42" in reasoning


def test_prompt_rendered_with_the_teachers_own_template(tiny_tokenizer):
    text = render_prompt(tiny_tokenizer, {"prompt": "What is 2 + 2?"}, get_convention("generic"))
    assert text == "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"
