"""Run a recipe's stale stages as jobs on a cluster engine, the engine doing the scheduling.

    factory run RECIPE --executor slurm     # one sbatch job per stale stage, `afterok` on its upstream jobs
    factory run RECIPE --executor ray       # one Ray task per stale stage, taking its upstream tasks' refs

Every stale stage is submitted at once, in graph order, each with a dependency on the jobs of its stale
upstream stages and the resources its kind needs (factory/executors/resources.py); cached stages are
not submitted, so a re-run after a failure or a preemption resubmits only what is incomplete. The
engine holds the jobs back until their inputs exist; this process only watches: it records every
submission in `<run>/jobs.json` (what `factory status` shows), says when a stage is done, cancels the
jobs it submitted on Ctrl-C, and when one fails prints the last lines of its log with the log's path
and cancels what depended on it (independent jobs go on and are kept).

An engine is a small class (SlurmEngine in slurm.py, RayEngine in ray.py) with `submit`, `state`,
`cancel`, `logs`, `reattach` and `close`; it never decides what is stale.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Protocol

from core.atomic import write_json
from factory.executors.resources import Resources, stage_resources
from core.manifest import check_artifact
from factory.progress import console
from factory.run_display import RunDisplay
from factory.stage_run import PlannedStage, StageFailed, needs_run, redacted_argv, work_dir

JOBS_FILE = "jobs.json"
POLL_S = 1.0
LOG_TAIL = 15
FINAL = ("completed", "failed", "cancelled")


class ExecutorError(RuntimeError):
    """The engine cannot run this recipe here (no sbatch on PATH, a stage Ray cannot place): one line."""


class Engine(Protocol):
    name: str

    def submit(self, p: PlannedStage, args: tuple, after: list[Any], res: Resources) -> Any: ...
    def job_id(self, handle: Any) -> str: ...
    def state(self, handle: Any) -> tuple[str, str]: ...  # (pending|running|completed|failed|cancelled, detail)
    def cancel(self, handles: list[Any]) -> None: ...
    def logs(self, handle: Any) -> list[Path]: ...
    def reattach(self, record: dict, p: PlannedStage) -> Any | None: ...
    def close(self) -> None: ...


class JobBook:
    """`<run>/jobs.json`: stage -> the job that makes it (engine, id, state, log), rewritten atomically."""

    def __init__(self, root: Path):
        self.path = root / JOBS_FILE
        self.stages: dict[str, dict] = read_jobs(root)

    def get(self, p: PlannedStage) -> dict | None:
        rec = self.stages.get(p.stage.name)
        return rec if rec and rec.get("hash") == p.stage.hash else None

    def update(self, name: str, **fields) -> None:
        self.stages.setdefault(name, {}).update(fields, updated_at=round(time.time(), 3))
        write_json(self.path, {"stages": self.stages})


def read_jobs(root: Path) -> dict[str, dict]:
    import json

    try:
        return json.loads((root / JOBS_FILE).read_text()).get("stages", {})
    except (OSError, ValueError):
        return {}


def run_on_engine(recipe, wanted: list[PlannedStage], by_name: dict[str, PlannedStage], force: tuple[str, ...],
                  make_engine: Callable[[], Engine], resolve) -> None:
    """Submit the stale stages of `wanted` to the engine and watch them to the end (see the module doc).
    `make_engine` builds the engine only when something is stale (factory/executors/__init__.py picks it)."""
    pending = [p for p in wanted if needs_run(p, force)]
    if not pending:
        return
    engine = make_engine()
    book = JobBook(recipe.run_root)
    handles: dict[str, Any] = {}
    try:
        _submit_all(engine, recipe, pending, by_name, force, resolve, book, handles)
        _watch(engine, pending, handles, book)
    except BaseException:  # Ctrl-C above all: the jobs we submitted must not go on without us
        live = {n: h for n, h in handles.items() if book.stages.get(n, {}).get("state") not in FINAL}
        if live:
            engine.cancel(list(live.values()))
            for n in live:
                book.update(n, state="cancelled")
            console.print(f"[yellow]cancelled[/yellow] {len(live)} {engine.name} job(s): {', '.join(live)}")
        raise
    finally:
        engine.close()


def _submit_all(engine, recipe, pending, by_name, force, resolve, book: JobBook, handles: dict) -> None:
    command, cwd = redacted_argv(), os.getcwd()
    for p in pending:  # graph order: a stage's upstream jobs exist before it is submitted
        name = p.stage.name
        prior = book.get(p) if name not in force else None
        handle = engine.reattach(prior, p) if prior and prior.get("engine") == engine.name else None
        res = stage_resources(recipe, p.stage)
        if handle is None:
            after = [handles[up] for up in dict.fromkeys(p.stage.inputs.values()) if up in handles]
            inputs = {up: by_name[up] for up in p.stage.inputs.values()}
            args = (recipe, p, inputs, resolve(p.stage.kind), command, cwd)
            handle = engine.submit(p, args, after, res)
            verb = "submit"
        else:
            verb = "attach"  # still queued or running from an earlier `factory run`: not submitted twice
        handles[name] = handle
        logs = engine.logs(handle)
        book.update(name, engine=engine.name, job_id=engine.job_id(handle), hash=p.stage.hash, state="pending",
                    resources=res.describe(), log=str(logs[0]) if logs else None,
                    **({"submitted_at": round(time.time(), 3)} if verb == "submit" else {}))
        ups = [up for up in p.stage.inputs.values() if up in handles]
        console.print(f"[bold cyan]{verb}[/bold cyan]  {name}  [dim]{engine.name} job {engine.job_id(handle)}, "
                      f"{res.describe()}{', after ' + ', '.join(dict.fromkeys(ups)) if ups else ''}[/dim]")


def _watch(engine, pending: list[PlannedStage], handles: dict, book: JobBook) -> None:
    """Poll the jobs to the end; a running job's progress file (shared storage) feeds the run display."""
    with RunDisplay() as display:
        _watch_jobs(engine, pending, handles, book, display)


def _watch_jobs(engine, pending: list[PlannedStage], handles: dict, book: JobBook, display: RunDisplay) -> None:
    open_ = {p.stage.name: p for p in pending}
    failures: list[StageFailed] = []
    while open_:
        for name, p in list(open_.items()):
            if name not in open_:  # cancelled above: it needed a stage that failed
                continue
            state, detail = engine.state(handles[name])
            if book.stages[name].get("state") != state:
                book.update(name, state=state, **({"detail": detail} if detail else {}))
                if state == "running":
                    display.started(name, work_dir(p))
                    console.print(f"[cyan]running[/cyan] {name}  [dim]{engine.name} job {engine.job_id(handles[name])}[/dim]")
            if state not in FINAL:
                continue
            del open_[name]
            display.finished(name)
            if state == "completed" and check_artifact(p.dir, p.stage.hash, full=False) is None:
                p.status = "cached"
                console.print(f"[green]done[/green]    {name}  [dim]{p.dir.name}[/dim]")
                continue
            if state == "completed":
                state, detail = "failed", "the job ended without publishing its artifact"
                book.update(name, state=state, detail=detail)
            failures.append(_failure(engine, p, handles[name], state, detail))
            console.print(f"[red]{state}[/red]  {name}: {failures[-1].args[0].splitlines()[0]}")
            _cancel_downstream(engine, name, open_, handles, book)
        if open_:
            time.sleep(POLL_S)
    if failures:
        raise failures[0]


def _cancel_downstream(engine, failed: str, open_: dict, handles: dict, book: JobBook) -> None:
    """Jobs waiting on a failed stage can never run: cancel them now (the independent ones go on)."""
    doomed, grew = {failed}, True
    while grew:
        grew = False
        for name, p in open_.items():
            if name not in doomed and doomed & set(p.stage.inputs.values()):
                doomed.add(name)
                grew = True
    doomed.discard(failed)
    if doomed:
        engine.cancel([handles[n] for n in doomed])
        for n in doomed:
            book.update(n, state="cancelled", detail=f"upstream {failed} failed")
            del open_[n]
        console.print(f"[yellow]cancelled[/yellow] {', '.join(sorted(doomed))}: they need {failed}")


def _failure(engine, p: PlannedStage, handle, state: str, detail: str) -> StageFailed:
    """One line naming the stage and why, then the last lines of its log and where the log is."""
    name = p.stage.name
    job = f"{engine.name} job {engine.job_id(handle)}"
    if detail.startswith(f"stage {name} "):
        head = detail  # the stage's own error, worded as a local run words it
    else:
        head = f"stage {name} {state}: {detail}" if detail else f"stage {name} {state} ({job})"
    lines = [head]
    stage_log = work_dir(p) / "stage.log"
    for log in [*engine.logs(handle), stage_log]:
        tail = _tail(log)
        if tail:
            lines += [f"last lines of {log}:", *(f"  {t}" for t in tail)]
            break
    logs = [str(x) for x in [*engine.logs(handle), stage_log] if x.exists()]
    if logs:
        lines.append("logs: " + ", ".join(logs))
    err = StageFailed("\n".join(lines))
    err.logs = logs
    return err


def _tail(path: Path, n: int = LOG_TAIL) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-n:]
