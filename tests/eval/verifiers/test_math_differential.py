"""Differential test: the factory's math verdicts (fast path + caches, batch judging) against plain math-verify.

Thousands of seeded (gold, completion) pairs are generated here: integers, big powers, fractions, decimals,
mixed numbers, intervals, tuples, sets, dashed ranges, arrows, units, currency, percentages, polynomials, in
several answer wrappings, with answers repeated within a prompt's batch. Every verdict must equal
`math_verify.verify(parse(gold), parse(answer))` (eval/verifiers/math.py `reference_equal`), in either order of
judging. Any difference fails and is listed.
"""

from __future__ import annotations

import random

import pytest

import eval.verifiers.math as vmath
from eval.verifiers.batch import judge_rows

SEED, N_PROMPTS, N_SAMPLES = 13, 250, 8


def family_int(r):
    n = r.randint(-60, 999)
    return str(n), [str(n), str(n + 1), str(-n), f"{n}.0", f"0{abs(n)}", f"{n}.5", f"{n},000"]


def family_power(r):
    b, e = r.choice([(2, 100), (10, 15), (2, 10), (3, 40), (10, 20)])
    v = b**e
    gold = r.choice([f"{b}^{{{e}}}", str(v), f"${b}^{{{e}}}-1$"])
    return gold, [str(v), str(v - 1), str(v + 1), f"{b}^{{{e}}}", f"{b}^{{{e}}}-1", f"{b}^{{{e}}}+1", f"{b}^{e}",
                  f"{b}^{e - 1}", f"{v:.3e}".replace("e+", "\\times 10^{") + "}"]


def family_fraction(r):
    p, q = r.randint(1, 30), r.randint(2, 31)
    forms = [f"\\frac{{{p}}}{{{q}}}", f"\\dfrac{{{p}}}{{{q}}}", f"{p}/{q}", f"\\frac{{{2 * p}}}{{{2 * q}}}",
             f"-\\frac{{{p}}}{{{q}}}", f"\\frac{{{q}}}{{{p}}}", f"{p / q:.6f}", f"{p / q:.2f}", f"{p / q:.4f}"]
    if p < 10 and q < 10:
        forms.append(f"\\frac{p}{q}")
    return r.choice(forms[:3]), forms


def family_decimal(r):
    a, b = r.randint(0, 99), r.randint(1, 99)
    v = f"{a}.{b:02d}"
    return r.choice([v, f"${v}$"]), [v, f"{v}0", f"{a}.{b + 1:02d}", f"\\frac{{{a * 100 + b}}}{{100}}", f"{a},{b:02d}",
                                     f".{b:02d}" if a == 0 else f"{a}", f"{float(v) + 1e-7:.7f}"]


def family_mixed(r):
    w, p, q = r.randint(1, 9), 1, r.randint(2, 9)
    improper = f"\\frac{{{w * q + p}}}{{{q}}}"
    return r.choice([improper, f"{w}\\frac{{{p}}}{{{q}}}"]), [
        f"{w}\\frac{p}{q}", f"{w}\\frac{{{p}}}{{{q}}}", improper, f"{w} \\frac{{{p}}}{{{q}}}", f"{w * p}/{q}",
        f"\\frac{{{w * p}}}{{{q}}}", f"{w + p / q:.6f}"]


def family_interval(r):
    a, b = sorted(r.sample(range(-20, 40), 2))
    lo, hi = r.choice("(["), r.choice(")]")
    return f"{lo}{a}, {b}{hi}", [f"{lo}{a},{b}{hi}", f"{lo}{a}, {b}{hi}", f"[{a},{b}]", f"({a},{b})", f"({a}, \\infty)",
                                 f"\\left{lo}{a}, {b}\\right{hi}", f"{a} < x < {b}", f"x \\in {lo}{a},{b}{hi}"]


def family_tuple_set(r):
    xs = r.sample(range(-9, 30), 3)
    t = ", ".join(map(str, xs))
    return r.choice([f"({t})", f"\\{{{t}\\}}", t]), [
        f"({t})", f"\\{{{t}\\}}", t, ", ".join(map(str, reversed(xs))), f"({', '.join(map(str, reversed(xs)))})",
        f"\\{{{', '.join(map(str, xs[:2]))}\\}}", f"{xs[0]}, {xs[1]}, and {xs[2]}"]


def family_range(r):
    a, b = r.randint(1, 9), r.randint(10, 19)
    return r.choice([f"{a}-{b}", str(a - b), f"{a}\u2013{b}", f"[{a},{b}]"]), [
        f"{a}\u2013{b}", f"{a}-{b}", f"{a} - {b}", str(a - b), f"{a} \\text{{ to }} {b}", f"{a}--{b}", f"[{a}, {b}]"]


def family_arrow(r):
    v = r.randint(0, 9)
    return r.choice([f"x \\rightarrow {v}", f"x \\to {v}", f"\\leftarrow", str(v)]), [
        f"x \\rightarrow {v}", f"x \\leftarrow {v}", f"x \\to {v}", "\\rightarrow", "\\leftarrow", str(v), f"x = {v}",
        f"\\Rightarrow {v}"]


def family_units(r):
    v = r.randint(1, 500)
    unit = r.choice(["cm", "m", "kg", "degrees", "units"])
    return r.choice([str(v), f"{v} \\text{{ {unit}}}"]), [
        f"{v} \\text{{ {unit}}}", f"{v}\\,\\text{{{unit}}}", f"{v} {unit}", f"{v}^\\circ", f"{v + 1} \\text{{ {unit}}}",
        f"{v}\\text{{{unit}}}^2", str(v)]


def family_currency(r):
    d, c = r.randint(1, 20000), r.randint(0, 99)
    v = f"{d}.{c:02d}"
    return r.choice([v, str(d), f"\\${v}"]), [
        f"\\${v}", f"${v}", f"\\${d:,}.{c:02d}", f"{d:,}", f"\\${d:,}", v, f"{v} dollars", f"\\${d + 1}"]


def family_percent(r):
    p = r.randint(1, 99)
    return r.choice([f"{p}\\%", str(p), f"0.{p:02d}"]), [
        f"{p}\\%", f"{p}%", str(p), f"0.{p:02d}", f"{p} percent", f"{p + 1}\\%", f"\\frac{{{p}}}{{100}}"]


def family_polynomial(r):
    a, b = r.randint(1, 9), r.randint(1, 9)
    return f"x^2+{a + b}x+{a * b}", [
        f"x^2+{a + b}x+{a * b}", f"(x+{a})(x+{b})", f"{a * b}+{a + b}x+x^2", f"x^2+{a + b}x-{a * b}",
        f"(x+{a})^2", f"x^2 + {a + b} x + {a * b}", f"(x-{a})(x-{b})"]


def family_thousands(r):
    a, b = r.randint(1, 99), r.randint(100, 999)
    return str(a * 1000 + b), [f"{a},\\! {b}", f"{a}, {b}", f"{a},{b}", f"{a}{b}", f"{a}\\,{b}", f"{a} {b}", f"{a}.{b}"]


FAMILIES = [family_int, family_power, family_fraction, family_decimal, family_mixed, family_interval,
            family_tuple_set, family_range, family_arrow, family_units, family_currency, family_percent,
            family_polynomial, family_thousands]
WRAPS = [
    "\\boxed{{{}}}", "So the answer is $\\boxed{{{}}}$.", "**Final Answer**\n\\[\n\\boxed{{{}}}\n\\]", "${}$",
    "The final answer is ${}$. I hope it is correct.", "{}", "Answer: {}", "\\boxed{{{}}} hmm, no: \\boxed{{0}}",
    "$$\\boxed{{{}}}$$", "\\(\\boxed{{{}}}\\)", "Thus x = \\boxed{{{}}}.", "$x = \\boxed{{{}}}$", "\\fbox{{{}}}",
    "In 3 steps: \\boxed{{{}}}", "The answer is 5, I mean \\boxed{{{}}}", "\\boxed{{{}}}%",
    "$${}$$", "\\({}\\)", "\\[{}\\]", "So we get ${}$.", "After 2 steps, x = ${}$", "The final answer is ${}$.",
    "The answer is 7 or ${}$", "Answer: ${}$ %",
]


def make_batch(seed: int = SEED) -> tuple[dict[str, dict], list[dict]]:
    r = random.Random(seed)
    prompts, rows = {}, []
    for i in range(N_PROMPTS):
        gold, forms = FAMILIES[i % len(FAMILIES)](r)
        pid = f"d{i:04d}"
        prompts[pid] = {"prompt_id": pid, "prompt": "q", "gold": gold, "task": "math", "metadata": {}}
        favourites = r.sample(forms, min(3, len(forms)))  # a teacher repeats a few answers
        for k in range(N_SAMPLES):
            answer = r.choice(favourites) if r.random() < 0.7 else r.choice(forms)
            wrap = r.choice(WRAPS[:3]) if r.random() < 0.6 else r.choice(WRAPS)
            rows.append({"prompt_id": pid, "sample_idx": k, "completion": f"<think>work</think>{wrap.format(answer)}"})
    return prompts, rows


def verdicts(prompts, rows) -> list[dict]:
    return [row["verdict"] for row in judge_rows(rows, prompts, {"workers": 1, "format": False})]


def agrees(verdict: dict, gold: str, expected: bool) -> bool:
    """Same verdict as math-verify; a gold math-verify cannot parse is undecided (None) instead of False."""
    if verdict["correct"] is None:
        return verdict["reason"] == "gold not parseable" and not vmath.parsed_gold(gold) and expected is False
    return verdict["correct"] is expected


@pytest.mark.slow
def test_factory_verdicts_equal_plain_math_verify_in_any_order():
    prompts, rows = make_batch()
    answers = [row["completion"].split("</think>", 1)[1] for row in rows]
    golds = [prompts[row["prompt_id"]]["gold"] for row in rows]
    reference: dict[tuple[str, str], bool] = {}
    for gold, answer in zip(golds, answers):
        if (gold, answer) not in reference:
            reference[(gold, answer)] = vmath.reference_equal(gold, answer)
    expected = [reference[(g, a)] for g, a in zip(golds, answers)]
    assert len(rows) >= 2000 and 0.15 < sum(expected) / len(expected) < 0.85  # both verdicts well represented

    vmath.clear_caches()
    forward = verdicts(prompts, rows)
    diffs = [f"gold {g!r} answer {a!r}: math-verify {e}, factory {f}"
             for g, a, e, f in zip(golds, answers, expected, forward) if not agrees(f, g, e)]
    assert not diffs, f"{len(diffs)} verdicts differ from math-verify:\n" + "\n".join(sorted(set(diffs))[:40])
    assert sum(f["reason"] == "equal numbers" for f in forward) > 100  # the fast path is exercised

    head = rows[: 60 * N_SAMPLES]  # judged again, in reverse, from cold caches: same verdicts
    vmath.clear_caches()
    assert verdicts(prompts, head[::-1])[::-1] == forward[: len(head)]


PROSE_WORDS = ["The", "answer", "final answer is", "is", "so", "x", "=", "3", "**Final Answer**", "\n", "Answer:",
               "we get", "12", "and", "or", ",", "-", "5.", "Thus", "k=2", "step 4"]
INNER = ["42", "-7", "0", "\\frac{3}{4}", "\\dfrac{6}{8}", "\\frac12", "0.75", "1.5", "007", "3/4", "2^{10}", "x+1",
         "(1,2]", "\\{1,2\\}", "10\\%", "5 \\text{ cm}", "\\sqrt{2}", "1,000", "3\u20135", "", "\\text{odd}", "x=3",
         "2\\frac12", "\\$5", "x \\to 3", "12:00", "\\frac{1}{2} \\text{ and } 3"]
PROSE_GOLDS = ["42", "-7", "\\frac{3}{4}", "0.75", "1024", "x+1", "$1,000$", "3", "1.5", "\\frac{1}{2}", "(1,2]"]
SHAPES = ["{p} \\boxed{{{x}}}", "{p} $\\boxed{{{x}}}$.", "{p}\n\\[\n\\boxed{{{x}}}\n\\]", "{p} ${x}$.", "{p} $${x}$$",
          "{p} \\({x}\\)", "{p} \\[{x}\\]", "{x}", "{p}${x}$"]


@pytest.mark.slow
def test_random_prose_around_one_box_or_math_span_changes_nothing():
    """The box / math-span shortcuts (math_fast.boxed_answer, math_span_answer) against math-verify on the whole
    text, with random prose that holds numbers, "answer", "final answer is" and equations before the answer."""
    r = random.Random(SEED)
    vmath.clear_caches()
    diffs = []
    for _ in range(1200):
        gold = r.choice(PROSE_GOLDS)
        prose = " ".join(r.choice(PROSE_WORDS) for _ in range(r.randint(0, 6)))
        answer = r.choice(SHAPES).format(p=prose, x=r.choice(INNER)).strip()
        verdict, expected = vmath.judge_math(answer, gold), vmath.reference_equal(gold, answer)
        if not agrees(verdict, gold, expected):
            diffs.append(f"gold {gold!r} answer {answer!r}: math-verify {expected}, factory {verdict}")
    assert not diffs, f"{len(diffs)} verdicts differ from math-verify:\n" + "\n".join(diffs[:40])
