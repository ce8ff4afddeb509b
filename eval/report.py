"""Stage `report`: gates decide which students ship; the leaderboard shows why.

Inputs: every `eval.<label>` artifact (results.json), `datasets` and `verified` (teacher samples with verdicts).
Config: `gates` (Gate dumps), `lineage` ({student: {kind, data, init, models}}), `produced` ({job: [stage names]};
a merge job yields several candidates and ships only its gate-passing Pareto pick), `teacher`, `recipe`, and
`budget` ({budgets, max_gen_toks, seed}: accuracy at smaller `max_gen_toks`, read from each eval's saved samples).
Writes `gates.json` ({label: {passed, reasons, job, ship}}: the gate result per student lives here, the
student's own manifest is immutable once published), `report.md`, `leaderboard.html` (self-contained),
`pareto.png`, `budget.png`, `teacher_lengths.png` and `leaderboard.json` (the data, for the cross-recipe leaderboard).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from eval import gates as gating
from eval.budget import eval_budgets
from eval.leaderboard import render_html, render_markdown
from eval.plot import budget_png, histogram_png, pareto_frontier, pareto_png
from core.atomic import read_jsonl, write_bytes, write_json, write_text
from factory.stages import StageContext

THROUGHPUT_KEYS = ("tokens_per_s", "samples_per_s", "train_tokens_per_s", "throughput")


def eval_results(ctx: StageContext) -> dict[str, dict]:
    """label -> {task: metrics} from every eval.* input."""
    out = {}
    for role, folder in sorted(ctx.inputs.items()):
        if role.startswith("eval."):
            path = folder / "results.json"
            if not path.exists():
                raise FileNotFoundError(f"stage {ctx.name}: input {role} has no results.json ({path})")
            res = json.loads(path.read_text())
            out[res.get("label", role.removeprefix("eval."))] = res["tasks"]
    return out


def budget_results(ctx: StageContext) -> dict | None:
    """{budgets, results: label -> {task: [metrics per budget] | None}} from every eval.* input's sample log."""
    cfg = ctx.config.get("budget")
    if not cfg or not cfg.get("budgets"):
        return None
    results = {}
    for role, folder in sorted(ctx.inputs.items()):
        if role.startswith("eval."):
            label = json.loads((folder / "results.json").read_text()).get("label", role.removeprefix("eval."))
            results[label] = eval_budgets(folder, cfg["budgets"], cfg["max_gen_toks"], cfg.get("seed", 0))
    return {"budgets": list(cfg["budgets"]), "max_gen_toks": cfg["max_gen_toks"], "results": results}


def teacher_text(teacher: dict) -> str:
    if teacher.get("bootstrap"):
        tasks = ", ".join(teacher["bootstrap"].get("tasks", []))
        return f"bootstrapped teacher ({tasks})" + (f" from {teacher['model']}" if teacher.get("model") else "")
    return str(teacher.get("model") or "?")


def lineage_text(label: str, job: str, lineage: dict, teacher: str) -> str:
    if label == "teacher":
        return teacher
    if label.startswith("base."):
        return "pretrained stand-in base (bootstrapped on programmatic traces; no teacher samples)"
    info = lineage.get(job, {})
    parts = [f"method {info.get('kind', '?')}"]
    if info.get("data"):
        parts.append(f"data {info['data']}")
    init = info.get("init") or {}
    if isinstance(init, dict):
        src = next((f"{k} {v}" if not isinstance(v, dict) else k for k, v in init.items() if v), None)
        if src:
            parts.append(f"init {src}")
    if info.get("models"):
        parts.append("merge of " + " + ".join(info["models"]))
    if info.get("teacher"):
        parts.append(f"scored by student {info['teacher']}")
    return f"teacher {teacher}; " + ", ".join(parts)


def teacher_samples(verified: Path | None) -> tuple[list[str], dict[str, list[float]]]:
    """Summary row and token lengths (correct / incorrect) of the teacher's verified samples."""
    rows = [r for p in sorted((verified / "samples").glob("*.jsonl")) for r in read_jsonl(p)] if verified else []
    if not rows:
        return ["0", "-", "-", "-", "-"], {}
    tokens = sorted(float(r.get("completion_tokens") or 0) for r in rows)
    correct = [r for r in rows if (r.get("verdict") or {}).get("correct")]
    lengths = {"correct": [float(r.get("completion_tokens") or 0) for r in correct],
               "incorrect": [float(r.get("completion_tokens") or 0) for r in rows if r not in correct]}
    p90 = tokens[min(len(tokens) - 1, int(0.9 * len(tokens)))]
    return [str(len(rows)), f"{100 * len(correct) / len(rows):.1f}%", f"{statistics.mean(tokens):.0f}",
            f"{statistics.median(tokens):.0f}", f"{p90:.0f}"], lengths


def upstream_manifests(ctx: StageContext) -> dict[str, dict]:
    """Every upstream stage's manifest, walking `inputs[*].dir` from the report's own inputs."""
    return walk_manifests([(ctx.manifests.get(role) or _read(folder / "manifest.json"), folder.parent)
                           for role, folder in ctx.inputs.items()])


def manifests_behind(artifact: Path) -> dict[str, dict]:
    """The manifests of an artifact and of every stage it was built from (not other runs' leftovers)."""
    artifact = Path(artifact)
    return walk_manifests([(_read(artifact / "manifest.json"), artifact.parent)])


def walk_manifests(frontier: list[tuple[dict | None, Path]]) -> dict[str, dict]:
    seen: dict[str, dict] = {}
    while frontier:
        manifest, root = frontier.pop()
        if not manifest or manifest.get("stage") in seen:
            continue
        seen[manifest["stage"]] = manifest
        for up in (manifest.get("inputs") or {}).values():
            frontier.append((_read(root / up["dir"] / "manifest.json"), root))
    return seen


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def stage_rows(manifests: dict[str, dict]) -> list[list[str]]:
    rows = []
    for name, m in sorted(manifests.items(), key=lambda kv: kv[1].get("started_at", 0)):
        summary = m.get("summary") or {}
        key = next((k for k in THROUGHPUT_KEYS if summary.get(k)), None)
        rows.append([name, f"{m.get('wall_s', 0):.1f}", f"{summary[key]} {key}" if key else "-"])
    return rows


def collect(ctx: StageContext) -> dict:
    cfg = ctx.config
    results = eval_results(ctx)
    produced = cfg.get("produced", {})
    decisions = gating.decide(results, cfg.get("gates", []), produced)
    teacher = teacher_text(cfg.get("teacher", {}))
    row, lengths = teacher_samples(ctx.inputs.get("verified"))
    return {
        "recipe": cfg.get("recipe", ""), "results": results, "gates": decisions, "teacher_text": teacher,
        "lineage_text": {label: lineage_text(label, gating.job_of(label, produced), cfg.get("lineage", {}), teacher)
                         for label in results},
        "teacher_samples_row": row, "teacher_lengths": lengths,
        "stage_rows": stage_rows(upstream_manifests(ctx)),
        "budget": budget_results(ctx),
    }


def plots(data: dict) -> dict[str, bytes]:
    res = data["results"]
    points = {lb: (gating.mean_metric(t, "acc"), gating.mean_metric(t, "tokens")) for lb, t in res.items()}
    cis = {lb: (sum(m["acc_ci"][0] for m in t.values()) / len(t), sum(m["acc_ci"][1] for m in t.values()) / len(t))
           for lb, t in res.items() if t}
    ships = {lb: g.get("ship", False) for lb, g in data["gates"].items()}
    out = {"pareto": pareto_png(points, cis, f"{data['recipe']}: accuracy vs mean tokens (mean over tasks)", ships)}
    png = budget_png(data["budget"], f"{data['recipe']}: accuracy at each max_gen_toks (mean over tasks)") \
        if data.get("budget") else None
    if png:
        out["budget"] = png
    if data["teacher_lengths"]:
        out["teacher_lengths"] = histogram_png(data["teacher_lengths"], "completion tokens",
                                               "teacher samples by verdict")
    data["frontier"] = pareto_frontier(points)
    return out


def run(ctx: StageContext) -> dict:
    data = collect(ctx)
    pngs = plots(data)
    write_json(ctx.out / "gates.json", data["gates"])
    write_bytes(ctx.out / "pareto.png", pngs["pareto"])
    if "budget" in pngs:
        write_bytes(ctx.out / "budget.png", pngs["budget"])
    if "teacher_lengths" in pngs:
        write_bytes(ctx.out / "teacher_lengths.png", pngs["teacher_lengths"])
    write_json(ctx.out / "leaderboard.json", {k: v for k, v in data.items() if k != "teacher_lengths"})
    write_text(ctx.out / "report.md", render_markdown(data))
    write_text(ctx.out / "leaderboard.html", render_html(data, pngs))
    ship = sorted(lb for lb, g in data["gates"].items() if g.get("ship"))
    ctx.log(f"gates: ship {', '.join(ship) or 'nothing'}; frontier {', '.join(data['frontier'])}")
    return {"students": len(data["gates"]), "ship": ship, "frontier": data["frontier"],
            "failed": sorted(lb for lb, g in data["gates"].items() if not g["passed"])}
