"""Run a function under a wall-clock deadline, in the main thread, another thread, or a worker process.

math-verify enforces its own timeouts with SIGALRM, which raises outside the main thread (DESIGN.md,
library facts). We switch its timeouts off and enforce ours here:
- main thread of a process with no interval timer running: `signal.setitimer` + a handler that raises
  (cheap: no IPC); the previous handler is restored afterwards.
- anywhere else (a thread of a GRPO reward server, a timer already in use): the call goes to a small
  process pool and is abandoned at the deadline; the pool's processes are killed and it is rebuilt.
Either way a call that runs past `timeout_s` raises `DeadlineExceeded`.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable


class DeadlineExceeded(BaseException):
    """The call ran past its deadline and was interrupted (or abandoned and its process killed).

    A BaseException, like math-verify's own TimeoutException: math-verify and sympy wrap their work in
    `except Exception`, which would turn an interrupt into a silent "not equal" verdict.
    """


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def call_with_deadline(fn: Callable[..., Any], args: tuple, timeout_s: float) -> Any:
    """`fn(*args)`, or DeadlineExceeded after `timeout_s` seconds. `fn` must be picklable (module level)."""
    if _can_use_alarm():
        return _call_with_alarm(fn, args, timeout_s)
    return _call_in_pool(fn, args, timeout_s)


def _can_use_alarm() -> bool:
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )


def _raise_deadline(signum, frame):
    raise DeadlineExceeded("deadline exceeded")


def _call_with_alarm(fn, args, timeout_s):
    previous = signal.signal(signal.SIGALRM, _raise_deadline)
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            ctx = multiprocessing.get_context("spawn")  # never fork a process that has threads
            _pool = ProcessPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)), mp_context=ctx)
        return _pool


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    for proc in list(getattr(pool, "_processes", {}).values()):
        proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def _call_in_pool(fn, args, timeout_s):
    for attempt in range(2):
        pool = _get_pool()
        try:
            return pool.submit(fn, *args).result(timeout=timeout_s)
        except FutureTimeout:
            _kill_pool(pool)
            raise DeadlineExceeded("deadline exceeded") from None
        except BrokenProcessPool:  # another thread's timeout killed the pool under us: retry once
            _kill_pool(pool)
            if attempt:
                raise
    raise AssertionError("unreachable")
