"""Benchmark: the factory's math verification vs naive sequential math-verify, same samples, same semantics, one run.

The mix imitates a teacher's output on a math set: `--prompts` prompts whose golds are mostly integers (as in
AIME / NuminaMath / most of MATH-500), then fractions, radicals, multiples of pi, decimals, intervals, tuples and
polynomials; `--n` samples each whose final answers repeat (a teacher mostly agrees with itself) and vary in form
(`\\frac{3}{4}`, `\\dfrac34`, `3/4`, `0.75`, spacing) and wrapping (`So the answer is $\\boxed{…}$.`, a
"**Final Answer**" display box, a bare box, "The final answer is $…$", plain text).

- naive: for every sample, `verify(parse(gold), parse(answer))` with math-verify's own configuration and timeouts
  (eval/verifiers/math.py `reference_equal`), one after the other, nothing cached.
- factory: `eval.verifiers.batch.judge_rows` in this process (what GRPO rewards and eval metrics call): exact
  fast path, gold parsed once, verdicts cached on the exact answer text / box content / parsed form. Caches are
  cleared first, so every distinct answer is paid for once inside the measurement.
- `--workers N` (N > 1) also times the verify stage's process pool (start-up included).
math-verify is warmed up before any timing (its first call costs 1-2 s; the ANTLR LaTeX parser is slow on the
first answers of each shape, so a small mix of other numbers is judged first, else whichever side ran first would
pay for the other). Then math-verify's own test suite
(tests/fixtures/math_verify/cases.json) runs through both: the bench prints how many verdicts differ from
math-verify (must be 0) and names the cases where math-verify itself contradicts the test's label.

Run: `HF_HUB_OFFLINE=1 PYTHONPATH=. python bench/bench_verify.py --prompts 200 --n 8`
"""

from __future__ import annotations

import argparse
import json
import random
import time
from math import gcd
from pathlib import Path

MIXES = {  # gold kinds a prompt set draws from
    "mixed": ["int"] * 9 + ["frac"] * 3 + ["sqrt", "pi", "decimal", "interval", "tuple", "polynomial", "polynomial"],
    "integer": ["int"],  # AIME / GSM8K style: every gold an integer
}
CASES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "math_verify" / "cases.json"


def gold_and_forms(kind: str, r: random.Random) -> tuple[str, list[str], list[str]]:
    """(gold, correct answer forms, wrong answer forms) for one prompt; the first form is the teacher's usual one."""
    a, b = r.randint(2, 97), r.randint(2, 9)
    if kind == "int":
        n = r.randint(0, 999)
        return str(n), [str(n), f"{n}.0", f"0{n}"], [str(n + 1), str(n - r.randint(2, 50)), str(2 * n)]
    if kind == "frac":
        q = a + r.randint(1, 9)
        p, q = a // gcd(a, q), q // gcd(a, q)
        return f"\\frac{{{p}}}{{{q}}}", [f"\\frac{{{p}}}{{{q}}}", f"\\dfrac{{{p}}}{{{q}}}", f"{p}/{q}",
                                          f"\\frac{{{2 * p}}}{{{2 * q}}}"], [f"\\frac{{{q}}}{{{p}}}", f"{p + 1}/{q}"]
    if kind == "sqrt":
        return f"{b}\\sqrt{{{a}}}", [f"{b}\\sqrt{{{a}}}", f"{b} \\sqrt{{{a}}}", f"\\sqrt{{{a * b * b}}}"], \
            [f"{b}\\sqrt{{{a + 1}}}", f"{b + 1}\\sqrt{{{a}}}"]
    if kind == "pi":
        return f"\\frac{{{a}\\pi}}{{{b}}}", [f"\\frac{{{a}\\pi}}{{{b}}}", f"\\frac{{{a}}}{{{b}}}\\pi"], \
            [f"\\frac{{{a}\\pi}}{{{b + 1}}}", f"{a}\\pi"]
    if kind == "decimal":
        return f"{a}.{b}", [f"{a}.{b}", f"{a}.{b}0", f"\\frac{{{a * 10 + b}}}{{10}}"], [f"{a}.{b + 1}", f"{a + 1}.{b}"]
    if kind == "tuple":
        return f"({a}, {b})", [f"({a}, {b})", f"({a},{b})"], [f"({b}, {a})", f"({a}, {b + 1})"]
    if kind == "polynomial":  # symbolic: only math-verify can judge these
        return f"{b}x^2+{a}x", [f"{b}x^2+{a}x", f"{a}x+{b}x^2", f"x({b}x+{a})"], [f"{b}x^2-{a}x", f"{b}x+{a}"]
    lo, hi = -b, a
    return f"({lo}, {hi}]", [f"({lo}, {hi}]", f"({lo},{hi}]"], [f"[{lo}, {hi}]", f"({lo}, {hi})"]


WRAPS = ["So the answer is $\\boxed{{{}}}$.", "**Final Answer**\n\\[\n\\boxed{{{}}}\n\\]", "\\boxed{{{}}}",
         "The final answer is ${}$.", "{}"]


def make_mix(n_prompts: int, n: int, seed: int = 0, mix: str = "mixed") -> tuple[dict[str, dict], list[dict]]:
    r = random.Random(seed)
    kinds = MIXES[mix]
    prompts, rows = {}, []
    for i in range(n_prompts):
        gold, right, wrong = gold_and_forms(r.choice(kinds), r)
        pid = f"p{i:04d}"
        prompts[pid] = {"prompt_id": pid, "prompt": f"Problem {i}", "gold": gold, "task": "math", "metadata": {}}
        accuracy, style = r.choice([0.2, 0.5, 0.8, 0.9, 1.0]), r.choice(WRAPS[:3])
        for k in range(n):
            forms = right if r.random() < accuracy else wrong
            answer = forms[0] if r.random() < 0.75 else r.choice(forms)
            wrap = style if r.random() < 0.8 else r.choice(WRAPS)
            reasoning = "Let me think step by step. " * r.randint(5, 40)
            rows.append({"prompt_id": pid, "sample_idx": k, "completion": f"<think>{reasoning}</think>\n"
                                                                          f"{wrap.format(answer)}"})
    return prompts, rows


def naive(prompts: dict[str, dict], rows: list[dict]) -> list[bool]:
    from eval.verifiers.math import reference_equal

    return [reference_equal(prompts[row["prompt_id"]]["gold"], row["completion"].split("</think>", 1)[1])
            for row in rows]


def factory(prompts: dict[str, dict], rows: list[dict], workers: int) -> list[bool | None]:
    from eval.verifiers.batch import judge_rows, make_pool
    from eval.verifiers.math import clear_caches

    clear_caches()
    pool = make_pool(workers)
    try:
        return [r["verdict"]["correct"] for r in judge_rows(rows, prompts, {"workers": workers}, pool)]
    finally:
        if pool is not None:
            pool.shutdown()


def unavoidable(prompts: dict[str, dict], rows: list[dict]) -> tuple[float, int, float, int]:
    """The work no exact in-process method judging with math-verify can skip, timed once on cold caches.

    One LaTeX parse (latex2sympy, two-stage, memoized numbers) per distinct string math-verify parses for the
    factory, and one `verify` per distinct (gold, parsed answer) pair it asks; recorded on a factory run, then
    replayed once each after sympy's cache is cleared. naive time / this time caps any such method's speed-up.
    """
    import latex2sympy2_extended.latex2sympy2 as l2s
    import math_verify
    from sympy.core.cache import clear_cache

    from eval.verifiers.latex_two_stage import two_stage
    from eval.verifiers.math import clear_caches
    from eval.verifiers.number_memo import memoized_numbers

    texts, pairs = {}, {}
    parse_latex, verify = l2s._Latex2Sympy.parse, math_verify.verify

    def record_parse(converter, text):
        texts.setdefault((text, converter.is_real), converter)
        return parse_latex(converter, text)

    def record_verify(gold, answer, **options):
        pairs.setdefault(repr((gold, answer)), (gold, answer, options))
        return verify(gold, answer, **options)

    l2s._Latex2Sympy.parse, math_verify.verify = record_parse, record_verify
    try:
        factory(prompts, rows, 1)
    finally:
        l2s._Latex2Sympy.parse, math_verify.verify = parse_latex, verify
    clear_caches()
    clear_cache()
    start = time.perf_counter()
    with two_stage(), memoized_numbers():
        for (text, _), converter in texts.items():
            try:
                converter.parse(text)
            except Exception:  # noqa: BLE001 - a failed parse is work math-verify did too
                pass
    parsing = time.perf_counter() - start
    start = time.perf_counter()
    for gold, answer, options in pairs.values():
        verify(gold, answer, **options)
    return parsing, len(texts), time.perf_counter() - start, len(pairs)


def peer_suite() -> None:
    """math-verify's own test cases: factory vs math-verify, and where math-verify contradicts a test's label."""
    from eval.verifiers import judge_answer
    from eval.verifiers.math import reference_equal

    cases = json.loads(CASES.read_text())["cases"]
    differ, contradicted = [], []
    for c in cases:
        reference = reference_equal(c["gold"], c["pred"])
        ours = judge_answer(c["pred"], {"gold": c["gold"], "task": "math"})["correct"]
        differ += [c["id"]] if ours is not reference else []
        contradicted += [c["id"]] if reference is not c["expected"] else []
    print(f"math-verify's test suite: {len(cases)} cases, factory verdicts differing from math-verify {len(differ)}"
          f"{' ' + str(differ) if differ else ''}; math-verify with default options contradicts the test's label on "
          f"{len(contradicted)} (those tests pass options of their own): {', '.join(contradicted)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="also time the verify stage's pool of N workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mix", choices=sorted(MIXES), default="mixed")
    args = parser.parse_args()
    prompts, rows = make_mix(args.prompts, args.n, args.seed, args.mix)
    from math_verify import parse, verify
    from sympy.core.cache import clear_cache

    verify(parse("$\\frac{1}{2}$"), parse("$x+1$"))  # warm-up, outside every measurement
    naive(*make_mix(40, 2, args.seed + 1, args.mix))  # warm ANTLR's caches on the mix's shapes for both sides
    clear_cache()  # sympy's own memo: neither side may start with the other's simplifications
    base, t_naive = timed(naive, prompts, rows)
    distinct = len({(prompts[r["prompt_id"]]["gold"], r["completion"].split("</think>", 1)[1]) for r in rows})
    print(f"samples: {len(rows)} ({args.mix} mix, {args.prompts} prompts x {args.n}; {distinct} distinct "
          f"(gold, answer text))")
    print(f"naive math_verify sequential:   {t_naive:6.2f} s ({len(rows) / t_naive:5.0f} samples/s), "
          f"correct {sum(base)}")
    runs = [("factory, in process:", 1)] + ([(f"factory, pool of {args.workers}:", args.workers)]
                                            if args.workers > 1 else [])
    for label, workers in runs:
        clear_cache()
        ours, seconds = timed(factory, prompts, rows, workers)
        differ = sum(a is not b for a, b in zip(base, ours))
        print(f"{label:31s} {seconds:6.2f} s ({len(rows) / seconds:5.0f} samples/s), correct "
              f"{sum(o is True for o in ours)}, undecided {sum(o is None for o in ours)}, "
              f"verdicts differing from math-verify {differ}; speed-up {t_naive / seconds:.1f}x")
    parsing, n_texts, verifying, n_pairs = unavoidable(prompts, rows)
    print(f"unavoidable for an exact in-process method: {parsing + verifying:.2f} s ({n_texts} distinct LaTeX "
          f"parses {parsing:.2f} s, {n_pairs} distinct verify calls {verifying:.2f} s); speed-up ceiling "
          f"{t_naive / (parsing + verifying):.1f}x")
    peer_suite()


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


if __name__ == "__main__":
    main()
