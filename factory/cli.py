"""The `factory` command: validate, plan, run, status, report, push.

    factory validate recipes/micro.yaml
    factory plan recipes/micro.yaml
    factory run recipes/micro.yaml [--until STAGE] [--force STAGE] [--jobs N] [--executor local|slurm|ray]
    factory status recipes/micro.yaml
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from factory.progress import console  # noqa: E402
from factory.recipe import Recipe, RecipeError, load_recipe  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Distillation and long2short model factory: one recipe YAML -> gated students.")

RecipeArg = typer.Argument(..., help="path to a recipe YAML", show_default=False)


def _fail(lines: list[str], code: int) -> None:
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def _os_error_line(e: OSError) -> str:
    where = e.filename or "the run folder"
    return f"cannot write {where}: {e.strerror or e}; nothing half-written was kept"


def _load(path: Path) -> Recipe:
    try:
        return load_recipe(path)
    except RecipeError as e:
        _fail(e.problems, 2)


@app.command()
def validate(recipe: Path = RecipeArg):
    """Check a recipe; print one line per problem (field path and what is expected); exit 2 if any."""
    r = _load(recipe)
    from factory.graph import build_graph

    console.print(f"[green]ok[/green] {recipe}: recipe '{r.name}', {len(build_graph(r))} stages")


@app.command()
def plan(recipe: Path = RecipeArg,
         estimate: bool = typer.Option(False, help="print GPU-hours and wall time per stage")):
    """Show the stage graph: each stage's inputs, content hash and whether it is cached."""
    from factory import runner

    r = _load(recipe)
    table = Table(title=f"plan: {r.name}  ({r.run_root})")
    for col in ("stage", "kind", "hash", "status", "inputs"):
        table.add_column(col)
    for p in runner.plan(r):
        color = "green" if p.cached else "yellow"
        table.add_row(p.stage.name, p.stage.kind, p.stage.short, f"[{color}]{p.status}[/{color}]",
                      ", ".join(sorted(set(p.stage.inputs.values()))))
    console.print(table)
    if estimate:
        from factory.estimate import print_estimate

        print_estimate(r)


@app.command()
def run(recipe: Path = RecipeArg,
        until: Optional[str] = typer.Option(None, help="stop after this stage (runs only what it needs)"),
        force: list[str] = typer.Option([], help="re-run this stage even if cached (repeatable)"),
        jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="run up to N independent stages at once, "
                                           "each in its own process (default: the recipe's stage_workers)"),
        executor: str = typer.Option("local", help="where stages run: local (this machine), slurm (one sbatch "
                                     "job per stale stage, via submitit) or ray (one Ray task per stale stage)"),
        partition: Optional[str] = typer.Option(None, help="slurm: the partition to submit to"),
        time_min: Optional[int] = typer.Option(None, "--time-min", help="slurm: time limit per job in minutes "
                                               "(default 1440); jobs get USR1 120 s before it and are requeued"),
        slurm_option: list[str] = typer.Option([], "--slurm-option", help="slurm: any sbatch option as KEY=VALUE, "
                                               "e.g. account=my-acct or qos=high (repeatable)"),
        ray_address: Optional[str] = typer.Option(None, help="ray: the cluster to join (default: RAY_ADDRESS, "
                                                  "else a local Ray instance)")):
    """Run every stale stage; complete artifacts are reused, interrupted stages resume."""
    from factory import runner
    from factory.executors import EXECUTORS, ExecutorError

    r = _load(recipe)
    if jobs is not None and jobs < 1:
        _fail([f"{recipe}: --jobs (stage_workers): must be at least 1 (got {jobs})"], 2)
    if executor not in EXECUTORS:
        _fail([f"{recipe}: --executor: unknown executor '{executor}' (known: {', '.join(EXECUTORS)})"], 2)
    bad = [o for o in slurm_option if "=" not in o]
    if bad:
        _fail([f"--slurm-option: expected KEY=VALUE (got '{bad[0]}')"], 2)
    options = {"partition": partition, "time_min": time_min, "ray_address": ray_address,
               "slurm_options": dict(o.split("=", 1) for o in slurm_option)}
    try:
        runner.run(r, until=until, force=tuple(force), workers=jobs, executor=executor, options=options)
    except KeyError as e:
        _fail([f"{recipe}: {e.args[0]}"], 2)
    except runner.RunLocked as e:
        _fail([str(e)], 3)
    except ExecutorError as e:
        _fail([f"{recipe}: {e}"], 2)
    except runner.StageFailed as e:
        if getattr(e, "logs", None) is not None:  # a cluster job: its log's tail and path are in the message
            _fail([str(e), f"fix and re-run `factory run {recipe} --executor {executor}`: only incomplete "
                   "stages are resubmitted"], 1)
        _fail([str(e), f"details: {r.run_root}/<stage>.partial/stage.log, and what a parallel stage printed: "
               f"{r.run_root}/logs/; fix and re-run to resume"], 1)
    except OSError as e:  # disk full, permission denied, read-only file system: name the path
        _fail([_os_error_line(e)], 1)
    except KeyboardInterrupt:
        _fail([f"interrupted: completed stages are kept; run `factory run {recipe}` again to resume"], 130)
    report = next(iter(sorted(r.run_root.glob("report-*/report.md"))), None)
    console.print(f"[bold green]finished[/bold green] {r.name}" + (f": report at {report}" if report else ""))


@app.command()
def status(recipe: Path = RecipeArg,
           verify: bool = typer.Option(False, help="also check every file's sha256")):
    """Show which stages are complete, partial, stale or corrupt, with their summaries, and for a run
    submitted with --executor slurm|ray each stage's job id and state on the cluster."""
    from factory import runner
    from factory.executors.status import job_states
    from core.manifest import read_manifest

    r = _load(recipe)
    planned = runner.plan(r, full_check=verify)
    jobs = job_states(planned, r.run_root)
    table = Table(title=f"status: {r.name}")
    for col in ("stage", "status", *(("job", "job state") if jobs else ()), "wall s", "summary"):
        table.add_column(col)
    for p in planned:
        m = read_manifest(p.dir) if p.cached else None
        summary = ", ".join(f"{k}={v}" for k, v in list((m or {}).get("summary", {}).items())[:4]
                            if not isinstance(v, (dict, list)))
        job = jobs.get(p.stage.name, ("", ""))
        table.add_row(p.stage.name, p.status, *(job if jobs else ()), f"{m['wall_s']:.1f}" if m else "", summary)
    console.print(table)


@app.command()
def report(recipe: Path = RecipeArg,
           publish: Optional[Path] = typer.Option(None, help="also write the report + findings to this markdown "
                                                               "file (images copied beside it)")):
    """Build (or reuse) the leaderboard: markdown + HTML + Pareto plot; print where it is."""
    from factory import runner

    r = _load(recipe)
    try:
        planned = runner.run(r, until="report")
    except runner.StageFailed as e:
        _fail([str(e)], 1)
    except runner.RunLocked as e:
        _fail([str(e)], 3)
    rep = next(p for p in planned if p.stage.name == "report")
    for name in ("report.md", "leaderboard.html", "pareto.png"):
        if (rep.dir / name).exists():
            typer.echo(str(rep.dir / name))
    if publish:
        from factory.publish import publish_report

        typer.echo(str(publish_report(r, rep.dir, publish, f"factory report {recipe} --publish {publish}")))


@app.command()
def push(recipe: Path = RecipeArg,
         student: Optional[str] = typer.Option(None, help="push only this student (default: all that passed)"),
         dry_run: bool = typer.Option(False, "--dry-run", help="write the release folder and list the files only"),
         datasets: bool = typer.Option(False, "--datasets", help="push the run's datasets with their cards instead")):
    """Release students that passed their gates (or, with --datasets, the datasets) to the Hugging Face Hub."""
    from eval.release import ReleaseRefused, push_students
    from eval.release_datasets import push_datasets
    from factory.runner import completed_stages

    r = _load(recipe)
    try:
        done = completed_stages(r)
        lines = push_datasets(r, done, dry_run=dry_run) if datasets else \
            push_students(r, done, student=student, dry_run=dry_run)
        for line in lines:
            typer.echo(line)
    except ReleaseRefused as e:
        _fail([str(e)], 1)


@app.command()
def generate(recipe: Path = RecipeArg,
             worker_index: int = typer.Option(0, "--worker-index", help="this worker's index, 0..N-1"),
             num_workers: int = typer.Option(1, "--num-workers", help="N: how many workers split the shards")):
    """Scale-out teacher generation: N workers (any machines sharing the run folder) claim the generate stage's
    shards one at a time under a heartbeat lease, so none is done twice and a dead worker's shard is taken over
    (teachers/claims.py). Worker I starts at shard I*shards/N. `factory run` then publishes the stage."""
    from factory import runner
    from factory.stages import StageContext
    from core.manifest import read_manifest
    from teachers.generate import generate_shards

    r = _load(recipe)
    planned = {p.stage.name: p for p in runner.plan(r)}
    gen = planned.get("generate")
    if gen is None:
        _fail([f"{recipe}: recipe has no generate stage"], 2)
    not_ready = [up for up in gen.stage.inputs.values() if not planned[up].cached]
    if not_ready:
        _fail([f"{recipe}: run the upstream stages first: factory run {recipe} --until {not_ready[-1]}"], 2)
    if gen.cached:
        console.print(f"[green]cached[/green]  generate  [dim]{gen.dir.name}[/dim]")
        return
    work = gen.dir.with_name(gen.dir.name + ".partial")
    work.mkdir(parents=True, exist_ok=True)
    inputs = {role: planned[up].dir for role, up in gen.stage.inputs.items()}
    ctx = StageContext("generate", "generate", gen.stage.config, inputs, work, r,
                       {role: read_manifest(d) or {} for role, d in inputs.items()})
    try:
        summary = generate_shards(ctx, worker_index, num_workers)
    except (ValueError, FileNotFoundError) as e:
        _fail([str(e)], 2)
    console.print(f"[green]done[/green]    worker {worker_index}/{num_workers}: {summary['shards']} shards, "
                  f"{summary['samples']} samples in {work}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
