"""Run independent stages at once, each in its own child process (`stage_workers` / `factory run --jobs N`).

Kept apart from factory/stage_run.py, which owns what a stage run *is* (`run_stage`: work folder ->
manifest -> publish); this module only decides *when* and *where* stages run. It imports no runner:
factory/runner.py calls it and hands it the stage-function resolver (so a patched registry applies).
A stage is ready once its upstream stages are complete; up to N ready stages run in graph order and
the next one starts as soon as any finishes. Children come from a forkserver that imported the heavy
libraries but never ran a torch op (forking a process that ran torch/OpenMP can hang). A child dies
with the runner: it asks the kernel for SIGKILL when its parent (the forkserver) exits, and the
forkserver exits as soon as the runner is gone, so a killed run leaves no orphan writing into a
`.partial` folder that the resumed run is about to reuse.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

from factory.gpus import GpuPool, Lease, visible_gpus
from core.lifetime import die_with_parent
from factory.progress import console
from factory.run_display import RunDisplay
from factory.stage_run import (PlannedStage, StageFailed, log_traceback, needs_run, output_log, redacted_argv,
                               run_stage, work_dir)
from factory.stages import stage_function

# Imported once by the forkserver so each child starts in milliseconds; missing ones are skipped.
# lm-eval alone takes ~9 s to import on the 2-core box, i.e. ~10 % of a micro eval stage. None of these
# starts a thread at import time (that would make forking unsafe).
PRELOAD = ["factory.stage_run", "torch", "transformers", "transformers.models.qwen2.modeling_qwen2", "datasets",
           "trl", "lm_eval", "lm_eval.evaluator", "lm_eval.models.huggingface"]
TERM_GRACE_S = 5.0


@dataclass
class _Child:
    stage: PlannedStage
    proc: multiprocessing.process.BaseProcess
    conn: Connection
    outcome: tuple | None = None  # what the child reported: ("ok",) | ("failed", msg) | ("oserror", ...) | ...
    eof: bool = False
    lease: Lease | None = None  # its GPU group and ports (factory/gpus.py)
    started: float = 0.0

    @property
    def wall_s(self) -> float:
        return time.time() - self.started

    @property
    def listening(self) -> bool:
        return self.outcome is None and not self.eof

    def collect(self) -> None:
        try:
            while self.listening and self.conn.poll():
                self.outcome = self.conn.recv()
        except (EOFError, OSError):
            self.eof = True


def run_parallel(recipe, wanted: list[PlannedStage], by_name: dict[str, PlannedStage],
                 force: tuple[str, ...], workers: int, resolve=stage_function) -> None:
    """Run the stale stages of `wanted` (in graph order), up to `workers` at once; `resolve(kind)` gives
    each stage's function."""
    pending = [p for p in wanted if needs_run(p, force)]
    if not pending:
        return
    names = {p.stage.name for p in wanted}
    done = {p.stage.name for p in wanted} - {p.stage.name for p in pending}
    if recipe.torch_threads:  # before the forkserver starts, so torch reads it at import
        os.environ["OMP_NUM_THREADS"] = str(recipe.torch_threads)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    running: dict[int, _Child] = {}  # sentinel -> child
    errors: list[BaseException] = []
    pool = GpuPool(visible_gpus())  # GPU stages wait for a free group of their size
    with RunDisplay() as display:
        _schedule(ctx, recipe, pending, names, done, by_name, workers, resolve, running, errors, pool, display)
    if errors:
        raise errors[0]


def _schedule(ctx, recipe, pending, names, done, by_name, workers, resolve, running, errors, pool, display) -> None:
    """The scheduling loop: launch ready stages up to `workers`, collect the finished ones."""
    try:
        while pending or running:
            while not errors and len(running) < workers:
                ready = next((p for p in pending if pool.fits(p.stage)
                              and all(up in done or up not in names for up in p.stage.inputs.values())), None)
                if ready is None:
                    break
                pending.remove(ready)
                lease = pool.take(ready.stage)
                try:
                    child = _launch(ctx, recipe, ready, by_name, resolve, lease)
                except Exception as e:  # e.g. a stage function that cannot be pickled
                    pool.give(lease)
                    errors.append(StageFailed(f"stage {ready.stage.name} failed: {type(e).__name__}: {e}"))
                    break
                running[child.proc.sentinel] = child
                display.started(ready.stage.name, work_dir(ready))
                console.print(f"[bold cyan]run[/bold cyan]     {ready.stage.name}  [dim]{ready.dir.name}[/dim]")
            if not running:
                if errors:
                    break
                raise RuntimeError(f"no runnable stage among {[p.stage.name for p in pending]}")
            for child in _wait_any(running):
                pool.give(child.lease)
                display.finished(child.stage.stage.name)
                error = _outcome(child)
                if error is None:
                    done.add(child.stage.stage.name)
                    child.stage.status = "cached"
                    console.print(f"[green]done[/green]    {child.stage.stage.name} in {child.wall_s:.1f}s")
                elif isinstance(error, KeyboardInterrupt):
                    raise error
                else:  # the first failure is raised once the running stages are done; say so now
                    errors.append(error)
                    if running or len(errors) > 1:
                        waiting = ", ".join(c.stage.stage.name for c in running.values())
                        console.print(f"[red]failed[/red]  {child.stage.stage.name}: {error}"
                                      + (f"; waiting for {waiting}" if waiting else ""))
    except BaseException:  # KeyboardInterrupt above all: stop the children, keep their .partial folders
        _stop(list(running.values()))
        raise


def _launch(ctx, recipe, p: PlannedStage, by_name: dict[str, PlannedStage], resolve, lease: Lease) -> _Child:
    fn = resolve(p.stage.kind)  # resolved here, so a patched registry reaches the child
    inputs = {up: by_name[up] for up in p.stage.inputs.values()}
    env = dict(os.environ, **lease.env)  # the forkserver's environment may be older
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, name=f"stage {p.stage.name}",
                       args=(recipe, p, inputs, fn, redacted_argv(), env, send))
    try:
        proc.start()
    except BaseException:
        recv.close()
        raise
    finally:
        send.close()
    return _Child(p, proc, recv, lease=lease, started=time.time())


def _wait_any(running: dict[int, _Child]) -> list[_Child]:
    """Block until at least one child exits; return (and forget) the finished ones."""
    while True:
        ready = wait([*running, *(c.conn for c in running.values() if c.listening)])
        for c in running.values():
            if c.listening and c.conn in ready:
                c.collect()  # read as it arrives, so a long message never blocks the child's exit
        finished = [running.pop(s) for s in [s for s in ready if s in running]]
        if finished:
            for c in finished:
                c.proc.join()
                c.collect()
                c.conn.close()
            return finished


def _outcome(child: _Child) -> BaseException | None:
    """None if the stage published its artifact, else the exception the parent raises for it."""
    name, out, code = child.stage.stage.name, child.outcome, child.proc.exitcode
    if out and out[0] == "ok" and code == 0:
        return None
    if out and out[0] == "failed":
        return StageFailed(out[1])
    if out and out[0] == "oserror":  # same errno/filename, so the CLI prints its one-line message
        errno_, strerror, filename = out[1:]
        if errno_ is None:
            return OSError(strerror)
        return OSError(errno_, strerror, filename) if filename is not None else OSError(errno_, strerror)
    if out and out[0] == "interrupted":
        return KeyboardInterrupt()
    if code is not None and code < 0:
        try:
            sig = signal.Signals(-code).name
        except ValueError:
            sig = f"signal {-code}"
        return StageFailed(f"stage {name} failed: killed by {sig}")
    return StageFailed(f"stage {name} failed: child process exited with code {code} without a result")


def _stop(children: list[_Child]) -> None:
    """SIGTERM the running children, SIGKILL whoever is still alive after TERM_GRACE_S."""
    for c in children:
        if c.proc.is_alive():
            c.proc.terminate()
    deadline = time.time() + TERM_GRACE_S
    for c in children:
        c.proc.join(max(0.0, deadline - time.time()))
        if c.proc.is_alive():
            c.proc.kill()
            c.proc.join()
        c.conn.close()


def _child_main(recipe, p: PlannedStage, inputs: dict[str, PlannedStage], fn, command: list[str],
                env: dict[str, str], conn: Connection) -> None:
    _die_with_parent()
    os.environ.clear()
    os.environ.update(env)
    _output_to_log(p)
    name = p.stage.name
    try:
        run_stage(recipe, p, inputs, fn=fn, command=command)
        result: tuple = ("ok",)
    except KeyboardInterrupt:
        result = ("interrupted",)
    except OSError as e:
        result = ("oserror", e.errno, e.strerror or str(e), e.filename)
    except StageFailed as e:
        log_traceback(p)
        result = ("failed", str(e))
    except BaseException as e:  # SystemExit from a stage, ...: still one line naming the stage
        log_traceback(p)
        result = ("failed", f"stage {name} failed: {type(e).__name__}: {e}")
    try:
        conn.send(result)
        conn.close()
    except OSError:
        pass  # the runner is gone
    if result[0] != "ok":
        sys.exit(1)


def _output_to_log(p: PlannedStage) -> None:
    """Everything the stage and its libraries print (warnings, their logs, vLLM's engine lines) goes to the
    stage's output log, so the runner's terminal shows only the run display and each stage's one-line result.
    The log sits beside the artifacts, not in the stage folder: a line printed after the manifest (the
    interpreter's exit) must not change a published file."""
    path = output_log(p)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    console._color_system = None  # picked when the forkserver imported rich at a terminal; a log wants no escapes


def _die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent exits, and exit now if it already has.

    The parent is the forkserver. It exits when no process holds the write end of its "alive" pipe;
    multiprocessing hands every child a copy, so we close ours: then the runner is the only holder
    and its death (even SIGKILL) ends the forkserver, which ends this process.
    """
    ppid = os.getppid()
    die_with_parent()
    if os.getppid() != ppid:  # the parent died before the request took effect
        os._exit(1)
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass
        # A stage that itself uses the forkserver start method gets a fresh server of its own.
        server._forkserver_alive_fd = None
        server._forkserver_address = None
        server._forkserver_pid = None

