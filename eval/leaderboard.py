"""Leaderboard rendering: students x tasks tables as markdown and as one self-contained HTML page.

`render_markdown` / `render_html` take the report's data (see eval/report.py `collect`), so the per-recipe report
and the cross-recipe leaderboard (`cross_recipe`, every complete report artifact under a runs folder) share them.
The HTML has inline CSS and PNGs embedded as base64: no external URL, it opens from a mail attachment.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path


def fmt_acc(m: dict) -> str:
    lo, hi = m.get("acc_ci", [m["acc"], m["acc"]])
    return f"{100 * m['acc']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def student_rows(data: dict) -> list[dict]:
    """One row per evaluated label: task metrics, gate status, lineage text."""
    rows = []
    for label, res in data["results"].items():
        gate = data["gates"].get(label, {})
        if label == "teacher":
            status = "baseline"
        elif label not in data["gates"]:  # a pretrained stand-in base: scored, never released
            status = "reference"
        else:
            status = "ship" if gate.get("ship") else ("pass" if gate.get("passed") else "fail")
        rows.append({"label": label, "tasks": res, "status": status, "reasons": gate.get("reasons", []),
                     "lineage": data["lineage_text"].get(label, ""), "recipe": data.get("recipe", "")})
    return rows


def task_names(data: dict) -> list[str]:
    return sorted({t for res in data["results"].values() for t in res})


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _cells(row: dict, tasks: list[str]) -> list[str]:
    cells = []
    for t in tasks:
        m = row["tasks"].get(t)
        cells += [fmt_acc(m), f"{m['tokens']:.0f}", f"{100 * m['truncated']:.0f}%"] if m else ["-", "-", "-"]
    return cells


def leaderboard_table_md(data: dict, with_recipe: bool = False) -> str:
    tasks = task_names(data)
    header = (["recipe"] if with_recipe else []) + ["student"]
    for t in tasks:
        header += [f"{t} acc % [95% CI]", f"{t} tokens", f"{t} truncated"]
    header += ["gate", "lineage"]
    rows = [([r["recipe"]] if with_recipe else []) + [r["label"]] + _cells(r, tasks) + [r["status"], r["lineage"]]
            for r in student_rows(data)]
    return _md_table(header, rows)


BUDGET_NOTE = ("Accuracy had generation stopped at each `max_gen_toks`: a completion that had not closed `</think>` "
               "and ended within that many tokens has no answer (scored 0). Read from each eval's saved samples "
               "(sampling is token by token, so a smaller cap gives the same first tokens); 95 % bootstrap "
               "interval over prompts; - = no per-completion verdicts in that eval's sample log.")


def budget_header(data: dict) -> list[str]:
    return [f"{t} @{b} acc % [95% CI]" for t in task_names(data) for b in data["budget"]["budgets"]]


def budget_cells(data: dict, label: str) -> list[str]:
    budget = data["budget"]
    res = budget["results"].get(label) or {}
    cells = []
    for t in task_names(data):
        per_budget = res.get(t)
        cells += [fmt_acc(m) for m in per_budget] if per_budget else ["-"] * len(budget["budgets"])
    return cells


def budget_table_md(data: dict) -> str:
    rows = [[r["label"]] + budget_cells(data, r["label"]) for r in student_rows(data)]
    return _md_table(["student"] + budget_header(data), rows)


def _budget_md(data: dict) -> list[str]:
    if not data.get("budget"):
        return []
    return ["## Accuracy by token budget", "", BUDGET_NOTE, "", budget_table_md(data), "",
            "![Accuracy by token budget](budget.png)", ""]


def render_markdown(data: dict) -> str:
    parts = [f"# Leaderboard: {data['recipe']}", "",
             f"Teacher: {data['teacher_text']}. Accuracy is pass@1 averaged over k samples per prompt with a 95 % "
             "bootstrap interval over prompts; tokens are mean completion tokens; truncated = no `</think>` "
             "(no answer, scored 0).", "", leaderboard_table_md(data), "", "![Pareto plot](pareto.png)", "",
             *_budget_md(data), "## Gates", ""]
    for label, g in sorted(data["gates"].items()):
        parts.append(f"- **{label}**: {'ship' if g.get('ship') else ('pass' if g['passed'] else 'FAIL')} - "
                     + "; ".join(g["reasons"]))
    parts += ["", "## Teacher samples", "", _md_table(["samples", "sample accuracy", "mean tokens", "median tokens",
                                                      "p90 tokens"], [data["teacher_samples_row"]])]
    parts += ["", "## Stages", "", _md_table(["stage", "wall s", "throughput"], data["stage_rows"]), ""]
    return "\n".join(parts)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th{background:#f0f3f8}td.l,th.l{text-align:left}
.ship{color:#1b7f3b;font-weight:600}.pass{color:#2b5fad}.fail{color:#b23b3b;font-weight:600}.baseline,.reference{color:#555}
img{max-width:100%;border:1px solid #ddd}small{color:#666}#leaderboard td:last-child{text-align:left}
"""


def _e(x) -> str:
    return html.escape(str(x))


def _html_table(header: list[str], rows: list[list[str]], table_id: str, left: int = 1) -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _img(png: bytes | None, alt: str, img_id: str) -> str:
    if not png:
        return ""
    return f'<img id="{img_id}" alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def leaderboard_table_html(data: dict, with_recipe: bool = False) -> str:
    tasks = task_names(data)
    header = (["recipe"] if with_recipe else []) + ["student"]
    for t in tasks:
        header += [f"{t} acc % [95% CI]", f"{t} tokens", f"{t} truncated"]
    header += ["gate", "lineage"]
    rows = []
    for r in student_rows(data):
        gate = f'<span class="{r["status"]}" title="{_e("; ".join(r["reasons"]))}">{r["status"]}</span>'
        rows.append(([_e(r["recipe"])] if with_recipe else []) + [_e(r["label"])]
                    + [_e(c) for c in _cells(r, tasks)] + [gate, f'<small>{_e(r["lineage"])}</small>'])
    return _html_table(header, rows, "leaderboard", left=2 if with_recipe else 1)


def budget_html(data: dict, pngs: dict[str, bytes]) -> str:
    if not data.get("budget"):
        return ""
    rows = [[_e(r["label"])] + [_e(c) for c in budget_cells(data, r["label"])] for r in student_rows(data)]
    table = _html_table(["student"] + budget_header(data), rows, "budget")
    return (f"<h2>Accuracy by token budget</h2>\n<p>{_e(BUDGET_NOTE)}</p>\n{table}\n"
            + _img(pngs.get("budget"), "accuracy at each max_gen_toks budget", "budget-plot"))


def render_html(data: dict, pngs: dict[str, bytes]) -> str:
    gates = [[_e(label), f'<span class="{"ship" if g.get("ship") else ("pass" if g["passed"] else "fail")}">'
              f'{"ship" if g.get("ship") else ("pass" if g["passed"] else "fail")}</span>',
              _e("; ".join(g["reasons"]))] for label, g in sorted(data["gates"].items())]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Leaderboard: {_e(data['recipe'])}</title>
<style>{CSS}</style></head><body>
<h1>Leaderboard: {_e(data['recipe'])}</h1>
<p>Teacher: {_e(data['teacher_text'])}. Accuracy is pass@1 averaged over k samples per prompt with a 95&nbsp;%
bootstrap interval over prompts; tokens are mean completion tokens; truncated = no <code>&lt;/think&gt;</code>
(no answer, scored 0).</p>
{leaderboard_table_html(data)}
<h2>Accuracy vs tokens</h2>
{_img(pngs.get("pareto"), "accuracy vs mean tokens with the Pareto frontier", "pareto")}
{budget_html(data, pngs)}
<h2>Gates</h2>
{_html_table(["student", "status", "reasons"], gates, "gates", left=3)}
<h2>Teacher samples</h2>
{_html_table(["samples", "sample accuracy", "mean tokens", "median tokens", "p90 tokens"],
             [[_e(c) for c in data["teacher_samples_row"]]], "teacher")}
{_img(pngs.get("teacher_lengths"), "teacher sample length distribution", "teacher-lengths")}
<h2>Stages</h2>
{_html_table(["stage", "wall s", "throughput"], [[_e(c) for c in r] for r in data["stage_rows"]], "stages")}
</body></html>
"""


def _report_data(report_dir: Path) -> dict | None:
    path = report_dir / "leaderboard.json"
    return json.loads(path.read_text()) if path.exists() and (report_dir / "manifest.json").exists() else None


def cross_recipe(runs_dir: Path, out_dir: Path) -> list[Path]:
    """One leaderboard across recipes from every complete report artifact under runs_dir/<recipe>/report-*/."""
    from core.atomic import write_text

    merged = {"recipe": "all recipes", "results": {}, "gates": {}, "lineage_text": {}}
    for report_dir in sorted(Path(runs_dir).glob("*/report-*")):
        data = _report_data(report_dir)
        if data is None:
            continue
        for label, res in data["results"].items():
            key = f"{data['recipe']}/{label}"
            merged["results"][key] = res
            merged["gates"][key] = data["gates"].get(label, {})
            merged["lineage_text"][key] = data["lineage_text"].get(label, "")
    if not merged["results"]:
        raise FileNotFoundError(f"{runs_dir}: no complete report artifact (run `factory report <recipe>` first)")
    md = "# Leaderboard across recipes\n\n" + leaderboard_table_md(merged) + "\n"
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Leaderboard across recipes</title>'
            f"<style>{CSS}</style></head><body><h1>Leaderboard across recipes</h1>"
            f"{leaderboard_table_html(merged)}</body></html>\n")
    return [write_text(Path(out_dir) / "leaderboard.md", md), write_text(Path(out_dir) / "leaderboard.html", page)]
