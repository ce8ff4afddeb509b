"""`factory push --datasets`: release the run's datasets (SFT, shortest, pairs, RL pool) to the Hub with their cards.

    factory push recipes/micro.yaml --datasets [--dry-run]

Teams publish their distilled data beside their students (OpenR1-Math-220k, OpenThoughts). Per dataset,
`runs/<recipe>/release/datasets/<name>/` holds exactly what is uploaded: `data/train-00000-of-00001.parquet` (what
the Hub's viewer and `datasets.load_dataset(repo)` read), the dataset card of the `datasets` stage
(factory/data/cards.py, a huggingface_hub DatasetCard) with a `configs` entry naming that file, and its histogram.
Repo ids follow `release.repo_template` with the dataset name in place of `{student}`, in the Hub's dataset
namespace, so they never clash with the model repos. Token, retries and idempotence (the release hash in the
commit title) are eval/release.py's. An empty dataset is skipped with a line saying so.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

from eval.release import ReleaseRefused, hub_api, push_folder
from core.atomic import publish_dir, write_text

PARQUET = "train-00000-of-00001.parquet"


def datasets_artifact(recipe, done: dict[str, Path]) -> Path:
    """The complete `datasets` stage folder among the complete stages (name -> dir), or refuse."""
    if "datasets" not in done:
        raise ReleaseRefused(f"recipe '{recipe.name}' has no complete datasets stage; run `factory run` first")
    return done["datasets"]


def saved_datasets(folder: Path) -> dict[str, Path]:
    """name -> folder of every dataset `save_to_disk` wrote into the stage folder (it has a state.json)."""
    return {p.parent.name: p.parent for p in sorted(folder.glob("*/state.json"))}


def dataset_repo_id(recipe, name: str) -> str:
    r = recipe.release
    return r.repo_template.format(org=r.org, recipe=recipe.name, student=name)


def build_dataset_folder(recipe, name: str, src: Path):
    """Write runs/<recipe>/release/datasets/<name>/ atomically; (folder, rows)."""
    import datasets
    from huggingface_hub import DatasetCard

    ds = datasets.load_from_disk(str(src))
    final = recipe.run_root / "release" / "datasets" / name
    work = final.with_name(f".{name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    ds.to_parquet(str(work / "data" / PARQUET))
    card = DatasetCard.load(src / "README.md")
    card.data.configs = [{"config_name": "default", "data_files": [{"split": "train", "path": f"data/{PARQUET}"}]}]
    write_text(work / "README.md", str(card))
    for extra in sorted(src.glob("*.png")):
        shutil.copy2(extra, work / extra.name)
    publish_dir(work, final)
    return final, len(ds)


def push_datasets(recipe, folders: dict[str, Path], dry_run: bool = False,
                  backoff_s: float = 1.0) -> Iterator[str]:
    """Release folders for every non-empty dataset; dry run lists them, else uploads. One line per event.

    `folders` maps every complete stage's name to its folder, resolved by the orchestration (factory/cli.py)."""
    found = saved_datasets(datasets_artifact(recipe, folders))
    if not found:
        raise ReleaseRefused("the datasets stage saved no dataset; nothing to release")
    if not dry_run:
        hub_api(recipe)  # a missing token stops before any file is written
    revision = recipe.release.revision or "main"
    for name, src in found.items():
        repo_id = dataset_repo_id(recipe, name)
        folder, rows = build_dataset_folder(recipe, name, src)
        if rows == 0:
            shutil.rmtree(folder)
            yield f"skipped dataset {name}: 0 rows"
            continue
        if dry_run:
            yield f"dry run: would upload {folder} to dataset {repo_id} (revision {revision}, " \
                  f"{'private' if recipe.release.private else 'public'}, {rows} rows)"
            for f in sorted(p for p in folder.rglob("*") if p.is_file()):
                yield f"  {f.relative_to(folder).as_posix()}  {f.stat().st_size} bytes"
            continue
        yield push_folder(recipe, folder, repo_id, backoff_s=backoff_s, repo_type="dataset")
