"""One `<think>` parser: every reader of a completion agrees with core.think.split_think, and no one else parses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.think import answer_or_none, split_think

ROOT = Path(__file__).resolve().parents[2]
# completion -> (reasoning, answer, format_ok, truncated)
CASES = {
    "<think>2+2 is 4</think>\n\nThe answer is 4.": ("2+2 is 4", "The answer is 4.", True, False),
    "<think>so the answer is \\boxed{4}": ("so the answer is \\boxed{4}", "", False, True),
    "let me see, 4</think>\\boxed{4}": ("let me see, 4", "\\boxed{4}", True, False),  # template opened <think>
    "<think>a</think>": ("a", "", False, False),
    "<think>a</think>x</think>5": ("a</think>x", "5", False, False),  # the answer follows the LAST </think>
    "preamble <think>a</think>5": ("a", "5", False, False),
    "": ("", "", False, True),
}


@pytest.mark.parametrize("text", CASES)
def test_split_think(text):
    assert tuple(split_think(text)) == CASES[text]
    assert answer_or_none(text) == (None if CASES[text][3] else CASES[text][1])


@pytest.mark.parametrize("text", CASES)
def test_every_reader_of_a_completion_agrees(text):
    from eval.evaluate import sample_rows
    from eval.tasks.r1.r1_utils import after_think
    from eval.verifiers import split_think as verifiers_split
    from teachers.bootstrap import final_answer
    from teachers.conventions import split_completion

    reasoning, answer, _ok, truncated = CASES[text]
    expected = None if truncated else answer
    assert verifiers_split(text) == split_think(text)
    assert split_completion(text) == (reasoning, "" if truncated else answer, truncated)
    assert final_answer(text) == expected  # bootstrap read the FIRST </think> before
    assert after_think(text) == expected  # the lm-eval task file's own copy (it must load without the factory)
    row = sample_rows("t", [{"doc_id": 0, "doc": {}, "resps": [[text]]}], lambda t, **_: {"input_ids": [0]})[0]
    assert (row["answer"], row["truncated"]) == (expected, truncated)


def test_datasets_keep_a_well_formed_completion_verbatim_and_rebuild_the_rest():
    from factory.data.samples import assistant_text

    good = "<think>\nWe need 5+3.\n</think>\n8"
    assert assistant_text({"completion": good}) == good
    twice = "<think>a</think>b</think>8"
    assert assistant_text({"completion": twice, "reasoning": "a", "answer": "8"}) == "<think>a</think>8"


def test_no_module_parses_think_tags_by_hand():
    """A split/partition/find on the closing tag anywhere but core/think.py is a second parser."""
    by_hand = re.compile(r"""(split|partition|index|find)\(\s*("</think>"|'</think>'|THINK_CLOSE|THINK_END|CLOSE)""")
    allowed = {ROOT / "core" / "think.py", ROOT / "eval" / "tasks" / "r1" / "r1_utils.py"}  # the task file stands alone
    offenders = [str(p.relative_to(ROOT)) for pkg in ("factory", "teachers", "students", "eval")
                 for p in (ROOT / pkg).rglob("*.py") if p not in allowed and by_hand.search(p.read_text())]
    assert offenders == []
