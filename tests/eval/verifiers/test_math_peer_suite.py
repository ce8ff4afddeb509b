"""math-verify's own test suite (269 gold / prediction / expected triples, tests/fixtures/math_verify/cases.json,
extracted from github.com/huggingface/Math-Verify with its commit) run through the factory's judge.

The prediction is the answer after `</think>` (`judge("<think>…</think>" + pred)`); a prediction that carries its
own `<think>…</think>` is graded as an answer text (`judge_answer`). Every case must match its expected label,
except the ones named below, where math-verify's test passes a non-default option that the factory does not.
"""

import json
from pathlib import Path

import pytest

from eval.verifiers import judge, judge_answer
from eval.verifiers.math import reference_equal

DATA = json.loads((Path(__file__).parents[2] / "fixtures" / "math_verify" / "cases.json").read_text())
CASES = DATA["cases"]

# math-verify with the factory's (= its default) options disagrees with these tests' labels: each test passes
# an option of its own. The factory keeps math-verify's defaults, so it returns math-verify's default verdict.
SPECIAL_CONFIG = {
    "test_all::test_latex_notation[5]": "match_types=['latex'] only: the default expression extraction reads 9",
    "test_all::test_latex_notation[6]": "match_types=['latex'] only: the default expression extraction reads 9",
    "test_all::test_complex_math_expressions[7]": "precision=2: at the default 6 digits 0.33 != 1/3",
    "test_all::test_complex_math_expressions[13]": "precision=2: at the default 6 digits 2.6667 != 8/3",
    "test_all::test_set_rel_assymetry[2]": "allow_set_relation_comp=True; default compares a relation with a set "
                                           "only when the prediction is the set",
    "test_strict::test_strict_variable_comparison[1]": "strict=False; default strict=True: f(x) != f(y)",
}
DELIBERATE = {}  # the factory differs from math-verify nowhere


def grade(case: dict) -> dict:
    prompt = {"prompt_id": case["id"], "prompt": "q", "gold": case["gold"], "task": "math", "metadata": {}}
    if "</think>" in case["pred"]:
        return judge_answer(case["pred"], prompt)
    return judge("<think>reasoning</think>" + case["pred"], prompt)


def test_cases_name_their_source():
    assert DATA["source"]["repo"] == "https://github.com/huggingface/Math-Verify"
    assert len(DATA["source"]["commit"]) == 40
    assert len(CASES) >= 260 and all(c["file"].startswith("tests/test_") for c in CASES)
    assert set(SPECIAL_CONFIG) <= {c["id"] for c in CASES}


def test_every_math_verify_case_gets_math_verifys_label():
    wrong = []
    for case in CASES:
        verdict = grade(case)
        agrees = verdict["correct"] is case["expected"]
        if agrees == (case["id"] in SPECIAL_CONFIG or case["id"] in DELIBERATE):
            wrong.append(f"{case['id']}: expected {case['expected']}, judge {verdict}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("case_id", sorted(SPECIAL_CONFIG))
def test_special_config_cases_are_what_plain_math_verify_says(case_id):
    case = next(c for c in CASES if c["id"] == case_id)
    assert reference_equal(case["gold"], case["pred"]) is (not case["expected"])
    assert grade(case)["correct"] is (not case["expected"])
