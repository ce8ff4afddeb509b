"""Hand-written stage folders and contexts for the eval/report/release tests (no upstream stage is run)."""

from __future__ import annotations

import json
from pathlib import Path

from factory.stages import StageContext

EVAL_CFG = {"backend": "hf", "tasks": ["heldout"], "k": 2, "temperature": 0.6, "top_p": 0.95,
            "max_gen_toks": 24, "batch_size": 16, "limit": None, "include_teacher": True,
            "base_url": None, "seed": 0}


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def prompt_rows(n: int = 4) -> list[dict]:
    return [{"prompt_id": f"p{i}", "source": "test", "prompt": f"What is {i} + {i}?", "gold": str(2 * i),
             "task": "procedural:basic_arithmetic", "split": "eval", "metadata": {"i": i}} for i in range(n)]


def prompts_folder(root: Path, n: int = 4, name: str = "heldout") -> Path:
    d = root / "prompts-000000000000"
    write_rows(d / "eval" / f"{name}.jsonl", prompt_rows(n))
    write_rows(d / "train.jsonl", [])
    return d


def eval_context(tmp: Path, model_dir: Path, cfg: dict | None = None, label: str = "long") -> StageContext:
    """An eval stage context whose `model` input is a hand-made student artifact holding `model_dir`."""
    student = tmp / f"student.{label}-000000000000"
    student.mkdir(parents=True)
    (student / "model").symlink_to(model_dir)
    out = tmp / f"eval.{label}-000000000000.partial"
    out.mkdir()
    return StageContext(f"eval.{label}", "eval", {"eval": cfg or EVAL_CFG, "label": label,
                                                  "teacher_model": "some-org/teacher"},
                        {"prompts": prompts_folder(tmp), "model": student}, out, None)


def metrics(acc: float, tokens: float, truncated: float = 0.0, ci: float = 0.05, n: int = 200, k: int = 4) -> dict:
    return {"acc": acc, "acc_ci": [max(acc - ci, 0.0), min(acc + ci, 1.0)], "tokens": tokens,
            "truncated": truncated, "n_prompts": n, "k": k}


def write_manifest(folder: Path, stage: str, wall_s: float = 1.0, summary: dict | None = None,
                   inputs: dict | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({
        "stage": stage, "wall_s": wall_s, "summary": summary or {}, "started_at": wall_s,
        "inputs": inputs or {}, "config": {}}))


# label -> heldout metrics: the teacher, an SFT student, and a merge sweep of three candidates
RESULTS = {
    "teacher": metrics(0.60, 120.0),
    "long": metrics(0.50, 110.0, truncated=0.02),
    "short": metrics(0.20, 40.0, truncated=0.0),
    "merge-w025": metrics(0.49, 90.0),
    "merge-w050": metrics(0.47, 70.0),
    "merge-w075": metrics(0.30, 50.0),
}
PRODUCED = {"long": ["student.long"], "short": ["student.short"],
            "merge": ["student.merge-w025", "student.merge-w050", "student.merge-w075"]}
LINEAGE = {"long": {"kind": "sft", "data": "sft", "init": {"tiny": {"hidden_size": 128}}},
           "short": {"kind": "sft", "data": "shortest", "init": {"tiny": {"hidden_size": 128}}},
           "merge": {"kind": "merge", "models": ["long", "short"]}}
GATES = [{"students": "*", "baseline": "teacher", "rules": ["heldout.acc >= 0.5 * baseline.heldout.acc"]},
         {"students": ["merge"], "baseline": "long",
          "rules": ["heldout.acc >= baseline.heldout.acc - 0.05", "heldout.tokens <= 0.9 * baseline.heldout.tokens"]}]


def report_context(tmp: Path, results: dict | None = None, recipe: str = "t", samples: dict | None = None,
                   budget: dict | None = None) -> StageContext:
    """A report context over hand-written eval, datasets and verified artifacts in tmp/runs/<recipe>/.

    `samples`: label -> sample-log rows written as that eval's samples/heldout.jsonl; `budget`: the report's
    budget config ({budgets, max_gen_toks, seed})."""
    root = tmp / "runs" / recipe
    inputs = {}
    write_manifest(root / "prompts-aaaa", "prompts", 0.5, {"prompts": 10})
    write_manifest(root / "verify-aaaa", "verify", 2.0, {"samples_per_s": 50.0},
                   {"prompts": {"stage": "prompts", "dir": "prompts-aaaa"}})
    write_rows(root / "verify-aaaa" / "samples" / "shard-00000.jsonl",
               [{"prompt_id": f"p{i}", "sample_idx": j, "completion_tokens": 40 + 10 * i + 7 * j,
                 "verdict": {"correct": (i + j) % 3 != 0, "reason": "", "verifier": "t"}}
                for i in range(6) for j in range(4)])
    write_manifest(root / "datasets-aaaa", "datasets", 1.0, {"sft_rows": 20},
                   {"verified": {"stage": "verify", "dir": "verify-aaaa"}})
    for label, m in (results or RESULTS).items():
        d = root / f"eval.{label}-aaaa"
        write_manifest(d, f"eval.{label}", 3.0, {"tokens_per_s": 321.0})
        (d / "results.json").write_text(json.dumps({"label": label, "tasks": {"heldout": m}}))
        if samples and label in samples:
            write_rows(d / "samples" / "heldout.jsonl", samples[label])
        inputs[f"eval.{label}"] = d
    inputs |= {"datasets": root / "datasets-aaaa", "verified": root / "verify-aaaa"}
    out = root / "report-aaaa.partial"
    out.mkdir()
    manifests = {role: json.loads((d / "manifest.json").read_text()) for role, d in inputs.items()}
    cfg = {"gates": GATES, "recipe": recipe, "lineage": LINEAGE, "produced": PRODUCED,
           "teacher": {"model": "some-org/teacher"}, **({"budget": budget} if budget else {})}
    return StageContext("report", "report", cfg, inputs, out, None, manifests)


def saved_dataset(folder: Path, name: str, rows: list[dict]) -> None:
    """A real `save_to_disk` dataset with its card, as the datasets stage writes it."""
    import datasets

    from factory.data.cards import write_card

    columns = ["messages"]
    ds = datasets.Dataset.from_list(rows) if rows else datasets.Dataset.from_dict({c: [] for c in columns})
    ds.save_to_disk(str(folder / name), num_shards=None if rows else 1)  # 0 shards would not load back
    write_card(folder / name, name=name, rule="Shortest correct teacher samples.", citation="Kimi k1.5",
               teachers=["some-org/teacher"], rows=len(rows), drops={"incorrect": 1},
               series={"chosen": [len(str(r)) for r in rows]}, xlabel="completion tokens", columns=columns)


def published_run(tmp: Path, model_dir: Path, release: dict | None = None, datasets: dict | None = None):
    """A recipe whose every stage artifact is hand-written and complete (manifest with the planned hash);
    the report is made by the real report stage. Students: long (acc 0.5, passes) and short (0.1, fails).
    `datasets` (name -> rows) makes the datasets stage hold real saved datasets instead of a card only."""
    import shutil

    import yaml

    from eval.report import run as report_run
    from factory.graph import artifact_dir, build_graph
    from core.manifest import write_manifest as factory_manifest
    from factory.recipe import load_recipe
    from tests.conftest import minimal_recipe

    data = minimal_recipe(
        run_dir=str(tmp / "runs"),
        students=[{"name": "long", "kind": "sft", "init": {"hub": "some-org/base"}},
                  {"name": "short", "kind": "sft", "init": {"hub": "some-org/base"}, "data": "shortest"}],
        eval={"tasks": ["heldout"], "gates": [{"rules": ["heldout.acc >= 0.3"]}]},
        release={"org": "me", **(release or {})})
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    recipe = load_recipe(path)
    stages = build_graph(recipe)
    dirs = {s.name: artifact_dir(recipe.run_root, s) for s in stages}
    accs = {"teacher": 0.6, "long": 0.5, "short": 0.1}
    for s in stages:
        d = dirs[s.name]
        d.mkdir(parents=True)
        if s.kind == "sft":
            shutil.copytree(model_dir, d / "model")
        elif s.kind == "eval":
            label = s.config["label"]
            (d / "results.json").write_text(json.dumps({"label": label, "tasks": {"heldout": metrics(accs[label], 50.0)}}))
        elif s.kind == "datasets" and datasets:
            for name, rows in datasets.items():
                saved_dataset(d, name, rows)
        elif s.kind == "datasets":
            (d / "sft").mkdir()
            (d / "sft" / "README.md").write_text("---\nlicense: mit\n---\n# sft\nShortest correct teacher samples.\n")
        elif s.kind == "report":
            ctx = StageContext("report", "report", s.config, {r: dirs[u] for r, u in s.inputs.items()}, d, recipe)
            report_run(ctx)
        factory_manifest(d, {"stage": s.name, "kind": s.kind, "hash": s.hash, "config": s.config, "wall_s": 1.0,
                             "inputs": {r: {"stage": u, "hash": "", "dir": dirs[u].name} for r, u in s.inputs.items()},
                             "summary": {}, "versions": {"lm_eval": "0.4.13"}})
    return recipe
