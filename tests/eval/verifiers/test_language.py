"""Language consistency (R1): share of the reasoning in the prompt's script."""

import pytest

from eval.verifiers import language_ok, language_share


def test_same_script_reasoning_scores_one_and_math_symbols_do_not_count():
    assert language_share("We add 2 + 2 = 4, so x = 4.", "What is 2+2?") == 1.0


def test_mixed_language_reasoning_is_measured_by_letters():
    share = language_share("First 加 then add", "What is 2+2?")  # 12 latin letters, 1 han
    assert share == pytest.approx(12 / 13)


def test_chinese_prompt_with_english_reasoning_fails_the_threshold():
    prompt = {"prompt": "计算二加二等于多少？"}
    assert not language_ok("Let me compute two plus two, it is four.", prompt, 0.9)
    assert language_ok("二加二等于四。", prompt, 0.9)


def test_threshold_none_switches_the_check_off_and_empty_reasoning_passes():
    assert language_ok("完全不同", {"prompt": "English"}, None)
    assert language_ok("", {"prompt": "English"}, 0.99)
    assert language_ok("Это кириллица", "Это вопрос", 0.95)
    assert not language_ok("Это кириллица", "This is a question", 0.5)
