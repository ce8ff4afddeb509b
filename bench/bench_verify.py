"""Benchmark: the factory's math verification vs naive sequential math-verify, on the same samples, in one run.

The mix imitates a teacher's output: `--prompts` math prompts (integers, fractions, radicals, multiples of pi,
decimals, intervals, polynomials), `--n` samples each, whose answers repeat (most samples agree) and vary in LaTeX form
(`\\frac{3}{4}`, `\\dfrac34`, `3/4`, `0.75`, spacing, boxed or not). Baseline: for every sample,
`math_verify.verify(parse(gold), parse(answer))` in this process, one after the other. Factory, twice:
`eval.verifiers.batch.judge_rows` in this process (what GRPO rewards and eval metrics call), and with the
verify stage's process pool of `--workers` (pool and fork-server start-up included). math-verify is warmed
up once before any timing (its first call costs 1-2 s). Prints the times, the ratios, and how many verdicts
differ from the baseline.

Run: `HF_HUB_OFFLINE=1 python bench/bench_verify.py --prompts 200 --n 8 --workers 2`
"""

from __future__ import annotations

import argparse
import random
import time

GOLD_KINDS = ["int", "frac", "sqrt", "pi", "decimal", "interval", "polynomial"]


def gold_and_forms(kind: str, rng: random.Random) -> tuple[str, list[str], list[str]]:
    """(gold, correct answer forms, wrong answer forms) for one prompt."""
    a, b = rng.randint(2, 97), rng.randint(2, 9)
    if kind == "int":
        return str(a * 7), [f"{a * 7}", f"{a * 7}.", f"{a * 7}.0"], [str(a * 7 + 1), str(a * 7 - 3)]
    if kind == "frac":
        b = a + rng.randint(1, 9)
        from math import gcd
        g = gcd(a, b)
        p, q = a // g, b // g
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
    if kind == "polynomial":  # symbolic: only math-verify can judge these
        return f"{b}x^2+{a}x", [f"{b}x^2+{a}x", f"{a}x+{b}x^2", f"x({b}x+{a})"], [f"{b}x^2-{a}x", f"{b}x+{a}"]
    lo, hi = -b, a
    return f"({lo}, {hi}]", [f"({lo},{hi}]", f"(\u2212{b}, {hi}]"], [f"[{lo}, {hi}]", f"({lo}, {hi})"]


def make_mix(n_prompts: int, n: int, seed: int = 0) -> tuple[dict[str, dict], list[dict]]:
    rng = random.Random(seed)
    prompts, rows = {}, []
    for i in range(n_prompts):
        gold, right, wrong = gold_and_forms(GOLD_KINDS[i % len(GOLD_KINDS)], rng)
        pid = f"p{i:04d}"
        prompts[pid] = {"prompt_id": pid, "prompt": f"Problem {i}", "gold": gold, "task": "math", "metadata": {}}
        accuracy = rng.choice([0.2, 0.5, 0.8, 1.0])
        for k in range(n):
            pool = right if rng.random() < accuracy else wrong
            answer = rng.choice(pool[:2]) if rng.random() < 0.7 else rng.choice(pool)
            box = rng.random() < 0.85
            text = f"So the answer is $\\boxed{{{answer}}}$." if box else f"The final answer is ${answer}$"
            reasoning = "Let me think step by step. " * rng.randint(5, 40)
            rows.append({"prompt_id": pid, "sample_idx": k, "completion": f"<think>{reasoning}</think>\n{text}"})
    return prompts, rows


def naive(prompts: dict[str, dict], rows: list[dict]) -> list[bool]:
    from math_verify import parse, verify

    out = []
    for row in rows:
        answer = row["completion"].split("</think>", 1)[1]
        out.append(bool(verify(parse(f"${prompts[row['prompt_id']]['gold']}$"), parse(answer))))
    return out


def factory(prompts: dict[str, dict], rows: list[dict], workers: int) -> list[bool | None]:
    from eval.verifiers.batch import judge_rows, make_pool

    pool = make_pool(workers)
    try:
        return [r["verdict"]["correct"] for r in judge_rows(rows, prompts, {"workers": workers}, pool)]
    finally:
        if pool is not None:
            pool.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    prompts, rows = make_mix(args.prompts, args.n)
    from math_verify import parse, verify

    verify(parse("$\\frac{1}{2}$"), parse("$x+1$"))  # warm-up, outside every measurement
    base, t_naive = timed(naive, prompts, rows)
    print(f"samples: {len(rows)} ({args.prompts} prompts x {args.n})")
    print(f"naive math_verify sequential:   {t_naive:6.2f} s ({len(rows) / t_naive:5.0f} samples/s), "
          f"correct {sum(base)}")
    for label, workers in [("factory, in process:", 1), (f"factory, pool of {args.workers}:", args.workers)]:
        ours, seconds = timed(factory, prompts, rows, workers)
        differ = sum(a != b for a, b in zip(base, ours))
        print(f"{label:31s} {seconds:6.2f} s ({len(rows) / seconds:5.0f} samples/s), correct "
              f"{sum(o is True for o in ours)}, undecided {sum(o is None for o in ours)}, "
              f"verdicts differing from naive {differ}; speed-up {t_naive / seconds:.1f}x")


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


if __name__ == "__main__":
    main()
