"""Programmatic long, variable-length chains of thought for reasoning-gym tasks (the micro teacher's data).

No large reasoner can be downloaded for the micro recipe, so `teachers.bootstrap` teaches a small model
to *behave* like one: it is trained on traces written here. Each trace solves the problem the way a
careful pupil would (column addition, ones first, with carries) and then runs a random number of
re-checks and detours — "Wait, let me verify by adding the other way", "let me check with
subtraction", a slip that a later check catches and fixes — so that sampling the trained model gives
answers of very different lengths (the raw material of long2short). A share of traces (`error_rate`)
makes a slip that is *not* caught and ends on a wrong answer, so the teacher's samples are sometimes
wrong (the raw material of rejection sampling and preference pairs).

Digits are written without spaces or separators around them ("7+5=12"), so with the split-digit
tokenizer of `students.tiny` every digit is one token and traces stay short in tokens.

Format: `<think>\\n...reasoning...\\n</think>ANSWER`, where ANSWER is exactly the string
reasoning-gym's `score_answer` accepts (for basic_arithmetic: `str(int)`, no whitespace).
Deterministic: `write_trace(question, rng)` depends only on the question and the rng's state.

Two designs (`TraceStyle.design`, the recipe's `teacher.bootstrap.trace_style`):
- "checked" (the first micro teacher): a verbose column pass every trace must write, then short re-checks and a
  "caught slip" redo that makes some correct traces longer. The mandatory pass is ~40 % of the mean trace, and
  length carries information about correctness (a caught slip is long and right).
- "overthink" (R1-like): a compact column pass, then `min_checks..max_checks` *redundant* re-verification
  passes ("Wait, let me double-check." and a full redo; none at all in a share `direct_rate`), drawn
  independently of whether the trace is right. A detour
  never changes the answer: it repeats the first pass, slip included. So the shortest trace is as right as the
  longest, and most of the length of a long trace is there to be cut (docs/micro-teacher.md has both side by side).

Supported: reasoning-gym `basic_arithmetic` questions of the form "Calculate A + B." (non-negative
integers, any number of digits; use `allow_parentheses: false, allow_negation: false, operators: ["+"]`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

_ADDITION = re.compile(r"^\s*(?:Calculate|What is|Solve|Compute|Evaluate:)\s*\(?\s*(\d+)\s*\+\s*(\d+)\s*\)?\s*[.?]?\s*$")
_PLACES = ["Ones", "Tens", "Hundreds", "Thousands"]
CHECK_KINDS = ("swap", "subtract", "redo_ones", "restate")
DETOUR_KINDS = ("redo", "swap")  # full passes only: the detours carry the length
DESIGNS = ("checked", "overthink")


@dataclass(frozen=True)
class TraceStyle:
    """How verbose and how wrong the traces are: the teacher's personality (from BootstrapConfig)."""

    min_checks: int = 0
    max_checks: int = 4
    error_rate: float = 0.15
    caught_slip_rate: float = 0.2  # share of traces with a slip that a later check catches (longer, still correct)
    design: str = "checked"  # "checked" or "overthink" (module docstring); overthink has no caught slips
    direct_rate: float = 0.0  # overthink: share of traces that answer with no detour at all (else min..max_checks)


@dataclass(frozen=True)
class Trace:
    question: str
    reasoning: str
    answer: str
    checks: int
    wrong: bool

    @property
    def completion(self) -> str:
        return f"<think>\n{self.reasoning}\n</think>{self.answer}"


def parse_addition(question: str) -> tuple[int, int]:
    """The two operands of 'Calculate A + B.'; ValueError for anything else (say which task is unsupported)."""
    m = _ADDITION.match(question)
    if not m:
        raise ValueError(f"teachers.traces supports 'Calculate A + B.' with non-negative A, B; got {question!r} "
                         "(set allow_parentheses: false, allow_negation: false, operators: ['+'])")
    return int(m.group(1)), int(m.group(2))


def _digits(n: int, width: int) -> list[int]:
    """Digits of n, ones first, padded with zeros to `width`."""
    return [(n // 10**i) % 10 for i in range(width)]


def _place(i: int) -> str:
    return _PLACES[i] if i < len(_PLACES) else f"Column {i + 1}"


def column_lines(a: int, b: int, slip: tuple[int, int] | None = None) -> tuple[list[str], int]:
    """Column addition of a + b, ones first. `slip=(column, delta)` adds delta to one column's sum.

    Returns the lines and the (possibly wrong) result they reach.
    """
    width = max(len(str(a)), len(str(b)))
    da, db = _digits(a, width), _digits(b, width)
    lines, carry, result = [], 0, 0
    for i in range(width):
        total = da[i] + db[i] + carry
        if slip and slip[0] == i:
            total = total + slip[1] if total + slip[1] >= 0 else total + 1
        terms = f"{da[i]}+{db[i]}" + (f"+{carry}" if carry else "")
        last = i == width - 1
        if last:
            lines.append(f"{_place(i)}: {terms}={total}, write {total}.")
            result += total * 10**i
        else:
            carry = total // 10
            note = f", carry {carry}" if carry else ""
            lines.append(f"{_place(i)}: {terms}={total}, write {total % 10}{note}.")
            result += (total % 10) * 10**i
    return lines, result


def assembly_line(a: int, b: int, lines: list[str], result: int, lead: str = "Reading the writes from the top") -> str:
    """Read the written digits top column first, right next to the result, so the answer is a copy."""
    writes = [line.rsplit("write ", 1)[1].split(",")[0].rstrip(".") for line in reversed(lines)]
    return f"{lead}: {' '.join(writes)}. So {a}+{b}={result}."


def _pick_slip(rng: random.Random, a: int, b: int) -> tuple[int, int]:
    width = max(len(str(a)), len(str(b)))
    return rng.randrange(width), rng.choice([-1, 1])


def _check(kind: str, a: int, b: int, shown: int, slip, rng: random.Random) -> list[str]:
    """One re-check of the claimed result `shown`. A wrong trace repeats its slip (the check 'agrees')."""
    if kind == "swap":
        swapped_slip = slip  # columns are symmetric: the same slip lands on the same column
        lines, again = column_lines(b, a, swapped_slip)
        return [f"Wait, let me verify the other way: {b}+{a}.", *lines, f"Again {again}. Good."]
    if kind == "subtract":
        return [f"Wait, let me check with subtraction: {shown}-{b} should give {a}. It does."]
    if kind == "redo_ones":
        lines, _ = column_lines(a, b, slip)
        return ["Hmm, let me redo the ones.", lines[0], "Same."]
    return [f"Let me restate: {a}+{b}={shown}. Yes."]


def write_trace(question: str, rng: random.Random, style: TraceStyle = TraceStyle()) -> Trace:
    """One verbose trace for an addition question; its random choices come from `rng` only."""
    if style.design == "overthink":
        return overthink_trace(question, rng, style)
    if style.design != "checked":
        raise ValueError(f"trace_style: unknown design {style.design!r} (one of {', '.join(DESIGNS)})")
    a, b = parse_addition(question)
    checks = rng.randint(style.min_checks, style.max_checks)
    wrong = rng.random() < style.error_rate
    caught = (not wrong) and checks > 0 and rng.random() < style.caught_slip_rate
    slip = _pick_slip(rng, a, b) if (wrong or caught) else None

    lines = [f"We need {a}+{b}. Add the columns, ones first."]
    first, shown = column_lines(a, b, slip)
    lines += first + [assembly_line(a, b, first, shown)]
    kinds = [rng.choice(CHECK_KINDS) for _ in range(checks)]
    if caught:
        fixed, shown = column_lines(a, b)
        lines += [f"Wait, let me verify the {_place(slip[0]).lower()} column again.",
                  fixed[slip[0]], "I made a mistake before. Let me redo it all.", *fixed,
                  assembly_line(a, b, fixed, shown)]
        kinds = kinds[1:]
        slip = None
    for kind in kinds:
        lines += _check(kind, a, b, shown, slip, rng)
    lines.append(f"The answer is {shown}.")
    return Trace(question=question, reasoning="\n".join(lines), answer=str(shown), checks=checks, wrong=wrong)


# ---------------------------------------------------------------- the R1-like design
def _detour(kind: str, a: int, b: int, shown: int, slip) -> list[str]:
    """One redundant re-verification of `shown`: it redoes the work the same way, so it lands on `shown` again."""
    if kind == "redo":
        lines, again = column_lines(a, b, slip)
        return ["Wait, let me double-check.", *lines, f"So {a}+{b}={again} again."]
    if kind == "swap":
        lines, again = column_lines(b, a, slip)  # columns are symmetric: the slip lands on the same column
        return [f"Wait, let me verify the other way: {b}+{a}.", *lines, f"Again {again}. Good."]
    return [f"Hmm, let me check with subtraction: {shown}-{b} should give {a}. It does."]


def overthink_lines(a: int, b: int, slip, detours: list[str]) -> tuple[list[str], int]:
    """The compact solve, the given redundant detours, the final line; returns (lines, answer).

    The answer is fixed by the first pass (and its slip, if any) before any detour is written."""
    first, shown = column_lines(a, b, slip)
    lines = [f"We need {a}+{b}.", *first, assembly_line(a, b, first, shown, lead="Writes from the top")]
    for kind in detours:
        lines += _detour(kind, a, b, shown, slip)
    return lines, shown  # the last line ends on the answer: </think> copies it


def overthink_trace(question: str, rng: random.Random, style: TraceStyle) -> Trace:
    """Right or wrong first (`error_rate`), then how many detours: the two draws are independent."""
    a, b = parse_addition(question)
    wrong = rng.random() < style.error_rate
    slip = _pick_slip(rng, a, b) if wrong else None
    direct = style.direct_rate > 0 and rng.random() < style.direct_rate  # no draw at 0: older traces stay the same
    count = 0 if direct else rng.randint(style.min_checks, style.max_checks)
    detours = [rng.choice(DETOUR_KINDS) for _ in range(count)]
    lines, shown = overthink_lines(a, b, slip, detours)
    return Trace(question=question, reasoning="\n".join(lines), answer=str(shown), checks=len(detours), wrong=wrong)


def trace_for_item(item: dict, seed: int | str, style: TraceStyle = TraceStyle()) -> Trace:
    """Deterministic trace for one reasoning-gym item: the rng is seeded by (seed, question)."""
    return write_trace(item["question"], random.Random(f"{seed}:{item['question']}"), style)
