"""Plots for the leaderboard: accuracy vs mean completion tokens with the Pareto frontier, accuracy at each token
budget, teacher length histogram.

matplotlib with the Agg backend (no display); every figure is returned as PNG bytes so the caller writes it
atomically and can embed it in HTML as base64.
"""

from __future__ import annotations

import io


def pareto_frontier(points: dict[str, tuple[float, float]]) -> list[str]:
    """Labels not dominated by another point: (acc, tokens), higher accuracy and fewer tokens are better.

    Sorted by tokens; a point is on the frontier when no other point has >= acc and <= tokens with one strict.
    """
    front = []
    for name, (acc, tok) in points.items():
        dominated = any((a >= acc and t <= tok) and (a > acc or t < tok)
                        for other, (a, t) in points.items() if other != name)
        if not dominated:
            front.append(name)
    return sorted(front, key=lambda n: points[n][1])


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def pareto_png(points: dict[str, tuple[float, float]], cis: dict[str, tuple[float, float]], title: str,
               passed: dict[str, bool] | None = None) -> bytes:
    """Scatter of mean tokens (x) vs accuracy (y) with CI bars; frontier joined by a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    front = pareto_frontier(points)
    for name, (acc, tok) in points.items():
        lo, hi = cis.get(name, (acc, acc))
        shipped = (passed or {}).get(name)
        color = "#555555" if name == "teacher" else ("#1b7f3b" if shipped else "#b23b3b")
        ax.errorbar(tok, acc, yerr=[[max(acc - lo, 0)], [max(hi - acc, 0)]], fmt="o", color=color, capsize=3)
        ax.annotate(name, (tok, acc), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if len(front) > 1:
        ax.plot([points[n][1] for n in front], [points[n][0] for n in front], "--", color="#2b5fad",
                label="Pareto frontier")
    ax.scatter([points[n][1] for n in front], [points[n][0] for n in front], s=140, facecolors="none",
               edgecolors="#2b5fad", label="on the frontier")
    ax.set_xlabel("mean completion tokens (fewer is better)")
    ax.set_ylabel("accuracy, pass@1 averaged over k")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def budget_curves(budget: dict) -> dict[str, list[tuple[int, float, float, float]]]:
    """label -> [(budget, acc, ci low, ci high)], each the mean over the label's tasks that have budget figures."""
    curves = {}
    for label, tasks in budget["results"].items():
        measured = [m for m in (tasks or {}).values() if m]
        if not measured:
            continue
        points = []
        for i, b in enumerate(budget["budgets"]):
            at_b = [m[i] for m in measured]
            points.append((b, sum(x["acc"] for x in at_b) / len(at_b), sum(x["acc_ci"][0] for x in at_b) / len(at_b),
                           sum(x["acc_ci"][1] for x in at_b) / len(at_b)))
        curves[label] = points
    return curves


def budget_png(budget: dict, title: str) -> bytes | None:
    """Accuracy (y, with 95 % CI bars) against the generation budget max_gen_toks (x), one line per model."""
    curves = budget_curves(budget)
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.4, 4.2))
    colors = plt.get_cmap("tab20")
    for i, (name, pts) in enumerate(sorted(curves.items())):
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        err = [[max(p[1] - p[2], 0) for p in pts], [max(p[3] - p[1], 0) for p in pts]]
        style = dict(color="#555555", linestyle="--") if name == "teacher" else dict(color=colors(i % 20))
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=2, label=name, **style)
    ax.set_xlabel("max_gen_toks (a completion not finished within it has no answer)")
    ax.set_ylabel("accuracy, pass@1 averaged over k")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _png(fig)


def histogram_png(values_by_group: dict[str, list[float]], xlabel: str, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for name, values in values_by_group.items():
        if values:
            ax.hist(values, bins=30, alpha=0.6, label=f"{name} ({len(values)})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("samples")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)
