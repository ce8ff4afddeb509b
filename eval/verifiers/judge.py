"""The one verifier interface: `judge(completion, prompt, cfg) -> {"correct", "reason", "verifier"}`.

`prompt` is a prompt row (docs/architecture.md): `prompt_id, prompt, gold, task, metadata`. The task picks the
verifier from VERIFIERS (math | code | procedural:<reasoning-gym name>); an unknown task is a clear error.
`judge` first splits the completion (eval/verifiers/format.py): a completion with no `</think>` is truncated
and incorrect (reason "truncated": it has no answer, lm-eval issue 3382); with `cfg.format` on, a malformed
one is incorrect with reason "format". `judge_answer` grades an answer text directly (no `<think>` rules).
`correct` is None when the verifier could not decide (timeout, unparseable gold, scorer crash).
"""

from __future__ import annotations

from typing import Callable

from eval.config import VerificationConfig
from eval.verifiers.format import split_think

Verdict = dict


def _math(answer: str, prompt: dict, cfg: VerificationConfig) -> Verdict:
    from eval.verifiers.math import judge_math

    return judge_math(answer, prompt.get("gold"), timeout_s=cfg.math_timeout_s)


def _code(answer: str, prompt: dict, cfg: VerificationConfig) -> Verdict:
    from eval.verifiers.code import judge_code

    return judge_code(answer, prompt, timeout_s=cfg.code_timeout_s, memory_mb=cfg.code_memory_mb)


def _procedural(answer: str, prompt: dict, cfg: VerificationConfig) -> Verdict:
    from eval.verifiers.procedural import judge_procedural

    return judge_procedural(answer, prompt)


VERIFIERS: dict[str, Callable[[str, dict, VerificationConfig], Verdict]] = {
    "math": _math,
    "code": _code,
    "procedural": _procedural,
}


def task_family(task: str) -> str:
    """'math' | 'code' | 'procedural' for a prompt's task; ValueError naming the task otherwise."""
    family, sep, name = str(task).partition(":")
    if family not in VERIFIERS or (family == "procedural") != bool(sep and name):
        raise ValueError(
            f"prompt task {task!r} has no verifier (known: math, code, procedural:<reasoning-gym dataset>)"
        )
    return family


def as_config(cfg) -> VerificationConfig:
    if cfg is None:
        return VerificationConfig()
    if isinstance(cfg, VerificationConfig):
        return cfg
    return VerificationConfig.model_validate(cfg)


def judge_answer(answer: str, prompt: dict, cfg=None) -> Verdict:
    """Grade an answer text (the part after `</think>`) against the prompt's gold."""
    cfg = as_config(cfg)
    return VERIFIERS[task_family(prompt.get("task"))](answer or "", prompt, cfg)


def judge(completion: str, prompt: dict, cfg=None) -> Verdict:
    """Grade a whole completion: truncation and format first, then the task's verifier on the answer."""
    cfg = as_config(cfg)
    family = task_family(prompt.get("task"))
    split = split_think(completion)
    if split.truncated:
        return {"correct": False, "reason": "truncated", "verifier": family}
    if cfg.format and not split.format_ok:
        return {"correct": False, "reason": "format", "verifier": family}
    return VERIFIERS[family](split.answer, prompt, cfg)
