"""Code verifier: the test shapes of HumanEval, MBPP, APPS/TACO and LiveCodeBench, judged in the sandbox."""

import json

import pytest

from eval.verifiers import judge
from eval.verifiers.code import extract_program, parse_tests

ADD_STDIN = "a, b = map(int, input().split())\nprint(a + b)\n"


def code_prompt(gold, **metadata) -> dict:
    return {"prompt_id": "c", "prompt": "Write it.", "gold": gold, "task": "code", "metadata": metadata}


def answer(program: str) -> str:
    return f"<think>easy</think>Here it is:\n```python\n{program}```\nDone."


def test_extract_program_takes_the_last_fenced_block():
    assert extract_program("```python\nx = 1\n```\nbetter:\n```py\nx = 2\n```") == "x = 2"
    assert extract_program("print(1)") == "print(1)"


def test_apps_stdio_tests_pass_and_fail():
    gold = json.dumps({"inputs": ["1 2\n", "3 4\n"], "outputs": ["3\n", "7\n"]})
    assert judge(answer(ADD_STDIN), code_prompt(gold)) == {
        "correct": True, "reason": "2 tests passed", "verifier": "code"}
    wrong = judge(answer(ADD_STDIN.replace("a + b", "a * b")), code_prompt(gold))
    assert wrong == {"correct": False, "reason": "test 0: wrong output", "verifier": "code"}


def test_apps_raw_row_with_fn_name_call_tests():
    io = json.dumps({"fn_name": "add", "inputs": [[1, 2], [5, 5]], "outputs": [[3], [10]]})
    program = "def add(a, b):\n    return a + b\n"
    assert judge(answer(program), code_prompt({"input_output": io}))["correct"] is True
    bad = judge(answer("def add(a, b):\n    return a - b\n"), code_prompt({"input_output": io}))
    assert bad["correct"] is False and bad["reason"] == "0/2 tests passed"


def test_livecodebench_functional_tests_call_a_solution_method():
    cases = [{"input": "[1, 2, 3]\n2", "output": "[3, 4, 5]", "testtype": "functional"}]
    program = ("class Solution:\n    def shift(self, nums, k):\n"
               "        return [x + k for x in nums]\n")
    assert judge(answer(program), code_prompt(cases, func_name="shift"))["correct"] is True
    with pytest.raises(ValueError, match="func_name"):
        parse_tests(cases)


def test_livecodebench_stdin_tests_compare_tokens_not_whitespace():
    cases = [{"input": "1 2\n", "output": "3   \n\n", "testtype": "stdin"}]
    assert judge(answer(ADD_STDIN), code_prompt(cases))["correct"] is True


def test_mbpp_test_list_and_runtime_errors():
    gold = {"test_list": ["assert square(3) == 9", "assert square(-2) == 4"]}
    assert judge(answer("def square(x):\n    return x * x\n"), code_prompt(gold))["correct"] is True
    crash = judge(answer("def square(x):\n    return x / 0\n"), code_prompt(gold))
    assert crash["correct"] is False and "ZeroDivisionError" in crash["reason"]


def test_empty_answer_and_unknown_gold_shape():
    assert judge("<think>x</think>```python\n```", code_prompt({"test_list": []}))["reason"] == "no program"
    with pytest.raises(ValueError, match="no known test shape"):
        judge(answer("x = 1\n"), code_prompt({"cases": []}))
