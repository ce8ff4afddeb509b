"""Our own deadline replaces math-verify's SIGALRM: it must work in the main thread and in other threads."""

import threading
import time

import pytest

from eval.verifiers.deadline import DeadlineExceeded, call_with_deadline
from eval.verifiers.math import math_verify_equal


def test_main_thread_deadline_interrupts_and_restores_the_alarm_handler():
    import signal

    before = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        call_with_deadline(time.sleep, (5,), 0.2)
    assert time.monotonic() - start < 2
    assert signal.getsignal(signal.SIGALRM) is before
    assert call_with_deadline(math_verify_equal, ("\\frac{1}{2}", "\\boxed{0.5}"), 10) is True


def swallows_errors() -> str:
    try:
        time.sleep(5)
    except Exception:  # what math-verify and sympy do around their work
        return "swallowed"
    return "finished"


def test_deadline_is_not_swallowed_by_except_exception():
    with pytest.raises(DeadlineExceeded):
        call_with_deadline(swallows_errors, (), 0.2)


def test_deadline_works_from_a_worker_thread():
    results = {}

    def worker():
        results["ok"] = call_with_deadline(math_verify_equal, ("\\sqrt{8}", "\\boxed{2\\sqrt{2}}"), 60)
        start = time.monotonic()
        try:
            call_with_deadline(time.sleep, (30,), 0.5)
        except DeadlineExceeded:
            results["timed_out_after"] = time.monotonic() - start

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(90)
    assert results["ok"] is True
    assert results["timed_out_after"] < 5
