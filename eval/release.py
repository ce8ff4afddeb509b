"""`factory push`: release the students that passed their gates to the Hugging Face Hub.

    factory push recipes/micro.yaml [--student long] [--dry-run]

Per student, a folder `runs/<recipe>/release/<student>/` holds exactly what is uploaded: safetensors weights,
config, tokenizer with its chat template, `generation_config.json` with the sampling it was evaluated with (the
recipe's `eval` temperature and top-p) and a model card written from the manifests (eval/card.py, huggingface_hub's
ModelCard with the eval results as model-index). `--dry-run` writes that folder and lists it.
The real path uses huggingface_hub (`create_repo`, `upload_folder`) with the token from the environment variable
named by `release.token_env`; the token is never logged or written. An upload is retried with backoff; the release
hash (sha256 of every file) goes into the commit title, so pushing an unchanged release again is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

from eval.card import recommended_sampling, render_card
from core.atomic import publish_dir, write_json, write_text

log = logging.getLogger(__name__)
COMMIT_PREFIX = "factory release "
MODEL_FILES = ("*.safetensors", "*.safetensors.index.json", "config.json", "tokenizer*", "special_tokens_map.json",
               "vocab.*", "merges.txt", "chat_template.*", "added_tokens.json")


class ReleaseRefused(Exception):
    """A student cannot be released; the message is one line saying why."""


def report_artifact(recipe, done: dict[str, Path]) -> Path:
    """The complete report folder among the complete stages (name -> dir, resolved by the caller), or refuse."""
    if "report" not in done:
        raise ReleaseRefused(f"recipe '{recipe.name}' has no complete report; run `factory report` first "
                             "(only evaluated students that pass their gates are released)")
    return done["report"]


def chosen_students(gates: dict, student: str | None) -> list[str]:
    """Labels to release: every shipping student, or the one asked for (a merge job name means its pick)."""
    if student is None:
        ship = sorted(label for label, g in gates.items() if g.get("ship"))
        if not ship:
            raise ReleaseRefused("no student passed its gates; nothing to release (see gates.json of the report)")
        return ship
    by_job = [label for label, g in gates.items() if g.get("job") == student and g.get("ship")]
    label = student if student in gates else (by_job[0] if by_job else None)
    if label is None:
        raise ReleaseRefused(f"student '{student}' was never evaluated (not in the report's gates.json: "
                             f"{', '.join(sorted(gates)) or 'none'})")
    g = gates[label]
    if not g["passed"]:
        raise ReleaseRefused(f"student '{label}' failed its gate: {'; '.join(g['reasons'])}")
    if not g.get("ship"):
        raise ReleaseRefused(f"student '{label}' is not released: {g['reasons'][-1]}")
    return [label]


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _dataset_cards(folders: dict[str, Path]) -> dict[str, str]:
    if "datasets" not in folders:
        return {}
    return {p.parent.name: p.read_text() for p in sorted(folders["datasets"].glob("*/README.md"))}


def _task_datasets(tasks) -> dict[str, str]:
    """Shipped task -> the Hub dataset it reads (the model-index names it); held-out sets have none."""
    from eval.lm_eval_runner import read_task_yaml, shipped_task_files

    shipped = shipped_task_files()
    paths = {t: read_task_yaml(shipped[t]).get("dataset_path") for t in tasks if t in shipped}
    return {t: p for t, p in paths.items() if p and p != "json"}


def card_info(recipe, label: str, folders: dict[str, Path], report: Path, repo_id: str) -> dict:
    board = _read_json(report / "leaderboard.json")
    gates = _read_json(report / "gates.json")
    student_manifest = _read_json(folders[f"student.{label}"] / "manifest.json")
    eval_manifest = _read_json(folders.get(f"eval.{label}", report) / "manifest.json")
    return {
        "label": label, "repo_id": repo_id, "recipe": recipe.name,
        "teacher": board.get("teacher_text", str(recipe.teacher.model)),
        "lineage": board.get("lineage_text", {}).get(label, ""),
        "student_config": (student_manifest.get("config") or {}).get("job", student_manifest.get("config")),
        "results": board.get("results", {}).get(label, {}), "gate": gates.get(label, {}),
        "datasets": _dataset_cards(folders),
        "stages": {n: _read_json(d / "manifest.json").get("hash", "") for n, d in folders.items()},
        "versions": student_manifest.get("versions", {}),
        "eval_config": (eval_manifest.get("config") or {}).get("eval", {}),
        "task_datasets": _task_datasets(recipe.eval.tasks),
    }


def _generation_config(model_dir: Path, eval_config: dict) -> dict:
    cfg = _read_json(model_dir / "generation_config.json")
    return {**cfg, **recommended_sampling(eval_config)}


def _has_chat_template(model_dir: Path) -> bool:
    tok_cfg = _read_json(model_dir / "tokenizer_config.json")
    return bool(tok_cfg.get("chat_template")) or any(model_dir.glob("chat_template.*"))


def build_release_folder(recipe, label: str, folders: dict[str, Path], report: Path, repo_id: str) -> Path:
    """Write runs/<recipe>/release/<label>/ atomically (built beside it, then renamed into place)."""
    model_dir = folders[f"student.{label}"] / "model"
    if not (model_dir / "config.json").exists():
        raise ReleaseRefused(f"student '{label}': no model in {model_dir}")
    if not _has_chat_template(model_dir):
        raise ReleaseRefused(f"student '{label}': tokenizer in {model_dir} has no chat template")
    final = recipe.run_root / "release" / label
    work = final.with_name(f".{label}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for pattern in MODEL_FILES:
        for f in model_dir.glob(pattern):
            shutil.copy2(f.resolve(), work / f.name)
    info = card_info(recipe, label, folders, report, repo_id)
    write_json(work / "generation_config.json", _generation_config(model_dir, info["eval_config"]))
    write_text(work / "README.md", str(render_card(info)))
    if (report / "pareto.png").exists():
        shutil.copy2(report / "pareto.png", work / "pareto.png")
    publish_dir(work, final)
    return final


def release_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f.relative_to(folder).as_posix().encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def repo_id_for(recipe, label: str) -> str:
    r = recipe.release
    return r.repo_template.format(org=r.org, recipe=recipe.name, student=label)


def hub_api(recipe):
    from huggingface_hub import HfApi

    env = recipe.release.token_env
    token = os.environ.get(env)
    if not token:
        raise ReleaseRefused(f"environment variable {env} is not set; export the Hub token there "
                             "(release.token_env names it; tokens never go in the recipe)")
    return HfApi(endpoint=recipe.release.endpoint, token=token)


def with_retries(fn, what: str, attempts: int = 4, backoff_s: float = 1.0):
    """Call fn(); on a network or server error wait backoff_s * 2^i and try again (attempts in all)."""
    for i in range(attempts):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - huggingface_hub raises several types for transient failures
            if i == attempts - 1 or not _transient(e):
                raise
            wait = backoff_s * 2 ** i
            log.warning("%s failed (%s); retry %d of %d in %.2fs", what, type(e).__name__, i + 1, attempts - 1, wait)
            time.sleep(wait)


def _transient(e: Exception) -> bool:
    status = getattr(getattr(e, "response", None), "status_code", None)
    if status is not None:
        return status >= 500 or status == 429
    # httpx's TransportError family (connection lost, protocol error, timeout); huggingface_hub already retries
    # 5xx answers and network errors itself, but not a connection dropped mid-request.
    names = {c.__name__ for c in type(e).__mro__}
    return isinstance(e, (ConnectionError, TimeoutError, OSError)) or bool(names & {"TransportError", "NetworkError"})


def already_pushed(api, repo_id: str, revision: str, digest: str, repo_type: str = "model") -> bool:
    try:
        commits = api.list_repo_commits(repo_id, revision=revision, repo_type=repo_type)
    except Exception as e:  # noqa: BLE001 - a new repo or branch has no commits to compare with
        if getattr(getattr(e, "response", None), "status_code", None) == 404:
            return False
        raise
    return bool(commits) and commits[0].title == COMMIT_PREFIX + digest


def push_folder(recipe, folder: Path, repo_id: str, backoff_s: float = 1.0, repo_type: str = "model") -> str:
    """Upload one release folder (a model or dataset repo); a one-line outcome. Idempotent: an unchanged release
    is not uploaded again."""
    rel = recipe.release
    api = hub_api(recipe)
    revision = rel.revision or "main"
    digest = release_hash(folder)
    kind = "" if repo_type == "model" else f"{repo_type} "
    with_retries(lambda: api.create_repo(repo_id, private=rel.private, exist_ok=True, repo_type=repo_type),
                 "create_repo", backoff_s=backoff_s)
    if revision != "main":
        with_retries(lambda: api.create_branch(repo_id, branch=revision, exist_ok=True, repo_type=repo_type),
                     "create_branch", backoff_s=backoff_s)
    if with_retries(lambda: already_pushed(api, repo_id, revision, digest, repo_type), "list_repo_commits",
                    backoff_s=backoff_s):
        return f"unchanged {kind}{repo_id}@{revision}: release {digest[:12]} is already there"
    info = with_retries(lambda: api.upload_folder(repo_id=repo_id, folder_path=folder, revision=revision,
                                                  repo_type=repo_type, commit_message=COMMIT_PREFIX + digest),
                        "upload_folder", backoff_s=backoff_s)
    return f"pushed {kind}{repo_id}@{revision} ({'private' if rel.private else 'public'}): {getattr(info, 'oid', '')}"


def push_students(recipe, folders: dict[str, Path], student: str | None = None, dry_run: bool = False,
                  backoff_s: float = 1.0) -> Iterator[str]:
    """Release folders for the chosen students; dry run lists them, else uploads. Yields one line per event.

    `folders` maps every complete stage's name to its folder; the orchestration resolves it (the release
    does not plan the run itself, so this module stays below factory's orchestration)."""
    report = report_artifact(recipe, folders)
    gates = _read_json(report / "gates.json")
    for label in chosen_students(gates, student):
        if f"student.{label}" not in folders:
            raise ReleaseRefused(f"student '{label}' has no complete model artifact; run the recipe first")
        repo_id = repo_id_for(recipe, label)
        if not dry_run:
            hub_api(recipe)  # a missing token stops before any file is written
        folder = build_release_folder(recipe, label, folders, report, repo_id)
        if dry_run:
            yield f"dry run: would upload {folder} to {repo_id} (revision {recipe.release.revision or 'main'}, " \
                  f"{'private' if recipe.release.private else 'public'})"
            for f in sorted(p for p in folder.rglob("*") if p.is_file()):
                yield f"  {f.relative_to(folder).as_posix()}  {f.stat().st_size} bytes"
            continue
        yield push_folder(recipe, folder, repo_id, backoff_s=backoff_s)
