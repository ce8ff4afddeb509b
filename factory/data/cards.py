"""Dataset cards: a README.md per built dataset, with a histogram PNG (`lengths.png`) beside it.

The card is huggingface_hub's `DatasetCard` (metadata from `DatasetCardData`: pretty name, task category, size
category, tags), so the Hub and `DatasetCard.load` read it as they read any dataset card. The card says where the data came from (teacher), which rule made it (with the paper), how many rows it
has, how many items every filter dropped, and the token-length distribution (for the RL pool, whose rows
have no completion, the pass-rate distribution).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from huggingface_hub import DatasetCard, DatasetCardData

from core.atomic import write_bytes, write_text

PLOT_NAME = "lengths.png"


def summarize(values) -> dict:
    """count, mean, median, p90, min, max of a series (all None for an empty one)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return {"count": 0, "mean": None, "median": None, "p90": None, "min": None, "max": None}
    return {"count": int(arr.size), "mean": round(float(arr.mean()), 3), "median": float(np.median(arr)),
            "p90": float(np.percentile(arr, 90)), "min": float(arr.min()), "max": float(arr.max())}


def plot_histogram(path: Path, series: dict[str, object], xlabel: str, title: str) -> None:
    """Overlaid histograms of each named series, written atomically as PNG (matplotlib Agg backend)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    arrays = {label: np.asarray(values, dtype=float) for label, values in series.items()}
    everything = np.concatenate([a for a in arrays.values()] or [np.zeros(0)])
    if everything.size:
        edges = np.histogram_bin_edges(everything, bins=min(50, max(5, int(np.sqrt(everything.size)))))
        for label, arr in arrays.items():  # shared bins, so overlaid series compare bar for bar
            if arr.size:
                ax.hist(arr, bins=edges, alpha=0.6, label=f"{label} (n={arr.size})")
    else:
        ax.text(0.5, 0.5, "no rows", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("rows")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    write_bytes(path, buf.getvalue())


def _drops_table(drops: dict[str, int]) -> str:
    lines = ["| filter | dropped |", "|---|---|"] + [f"| {k} | {v} |" for k, v in drops.items()]
    return "\n".join(lines)


def _stats_table(series_stats: dict[str, dict]) -> str:
    lines = ["| series | count | mean | median | p90 | max |", "|---|---|---|---|---|---|"]
    for label, s in series_stats.items():
        lines.append(f"| {label} | {s['count']} | {s['mean']} | {s['median']} | {s['p90']} | {s['max']} |")
    return "\n".join(lines)


def size_category(rows: int) -> str:
    """The Hub's `size_categories` bucket for a row count."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return label
    return "n>1M"


def card_data(name: str, rows: int) -> DatasetCardData:
    return DatasetCardData(pretty_name=name, task_categories=["text-generation"], size_categories=[size_category(rows)],
                           tags=["distillation", "long2short", "reasoning", "synthetic"])


def write_card(folder: Path, *, name: str, rule: str, citation: str, teachers: list[str], rows: int,
               drops: dict[str, int], series: dict[str, object], xlabel: str, columns: list[str],
               settings: dict | None = None) -> dict:
    """Write README.md + lengths.png into `folder`; return the series statistics for stats.json."""
    stats = {label: summarize(values) for label, values in series.items()}
    plot_histogram(folder / PLOT_NAME, series, xlabel, f"{name}: {xlabel}")
    body = f"""
# {name}

Built by the distillation factory (`datasets` stage) from verified teacher samples.

- **Teacher:** {", ".join(teachers) or "unknown"}
- **Rule:** {rule}
- **Source:** {citation}
- **Rows:** {rows}
- **Settings:** {", ".join(f"{k}={v}" for k, v in (settings or {}).items()) or "none"}
- **Columns:** {", ".join(f"`{c}`" for c in columns)}

## Filters (items dropped)

{_drops_table(drops)}

## Distribution ({xlabel})

{_stats_table(stats)}

![{xlabel} histogram]({PLOT_NAME})

Load with `datasets.load_from_disk(<this folder>)` (a released copy on the Hub: `datasets.load_dataset(<repo>)`).
"""
    write_text(folder / "README.md", str(DatasetCard(f"---\n{card_data(name, rows).to_yaml()}\n---\n{body}")))
    return stats
