"""Statistics shared by the eval (eval/evaluate.py) and the budget curves (eval/budget.py).

A module of its own so both import it and neither imports the other for it (no import cycle).
"""

from __future__ import annotations

BOOTSTRAP_ITERS = 2000


def bootstrap_ci(per_prompt: list[float], seed: int = 0, iters: int = BOOTSTRAP_ITERS) -> list[float]:
    """95 % percentile bootstrap interval of the mean, resampling prompts."""
    import numpy as np

    if not per_prompt:
        return [0.0, 0.0]
    rng = np.random.default_rng(seed)
    values = np.asarray(per_prompt, dtype=float)
    means = values[rng.integers(0, len(values), size=(iters, len(values)))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]
