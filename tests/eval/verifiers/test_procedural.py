"""Procedural verifier: reasoning-gym's own scorer on the extracted final answer."""

import pytest
import reasoning_gym

from eval.verifiers import judge


@pytest.fixture(scope="module")
def arithmetic_prompt():
    entry = reasoning_gym.create_dataset("basic_arithmetic", size=1, seed=1)[0]  # "Calculate 5 - 3 - 6." -> -4
    return {"prompt_id": "ba-0", "prompt": entry["question"], "gold": entry["answer"],
            "task": "procedural:basic_arithmetic", "metadata": entry["metadata"]}


@pytest.mark.parametrize(
    "completion, correct",
    [
        ("<think>5-3=2, 2-6=-4</think>\\boxed{-4}", True),  # raw, the scorer gives 0.2 for the box
        ("<think>x</think><answer>-4</answer>", True),
        ("<think>x</think>-4", True),
        ("<think>x</think>\\boxed{\u22124}", True),  # unicode minus
        ("<think>x</think>\\boxed{-5}", False),
        ("<think>x</think>\\boxed{}", False),
        ("<think>the answer is -4", False),  # truncated: never scored on the reasoning
    ],
)
def test_reasoning_gym_scores_the_extracted_answer(arithmetic_prompt, completion, correct):
    assert arithmetic_prompt["gold"] == "-4"
    verdict = judge(completion, arithmetic_prompt)
    assert verdict["correct"] is correct, verdict
    assert verdict["verifier"] == "procedural"


def test_raw_boxed_answer_gets_partial_credit_from_reasoning_gym_itself(arithmetic_prompt):
    score = reasoning_gym.get_score_answer_fn("basic_arithmetic")("\\boxed{-4}", {
        "question": arithmetic_prompt["prompt"], "answer": "-4", "metadata": arithmetic_prompt["metadata"]})
    assert score < 1.0  # why we extract before scoring


def test_unknown_reasoning_gym_dataset_is_a_clear_error(arithmetic_prompt):
    with pytest.raises(ValueError, match="unknown reasoning-gym dataset"):
        judge("<think>x</think>1", {**arithmetic_prompt, "task": "procedural:no_such_task"})
