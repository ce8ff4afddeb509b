"""Generate workers as Ray tasks on a local Ray instance (2 CPUs): one task's process is SIGKILLed
mid-shard, Ray retries it, the retry takes over the dead worker's shard: 0 lost, 0 duplicated."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from core.atomic import read_jsonl
from teachers.generate import run
from tests.teachers.fake_openai import serve
from tests.teachers.helpers import generate_ctx, write_prompts

pytest.importorskip("ray")


def _slow(seed, attempt):
    time.sleep(0.05)
    return "ok"


def _kill_one_worker_mid_shard(samples, killed: list, stop: threading.Event) -> None:
    while not stop.is_set() and not killed:
        for lease in samples.glob("*.lease") if samples.exists() else []:
            try:
                pid = int(json.loads(lease.read_text())["owner"].split(":")[1])
            except (OSError, ValueError, KeyError):
                continue
            partial = lease.with_name(lease.name.replace(".lease", ".partial.jsonl"))
            if pid != os.getpid() and partial.exists() and len(read_jsonl(partial)) >= 2:
                os.kill(pid, signal.SIGKILL)
                killed.append((pid, partial.name))
                return
        time.sleep(0.02)


@pytest.mark.slow
def test_ray_tasks_retry_a_killed_worker_and_lose_nothing(tmp_path):
    prompts = write_prompts(tmp_path / "prompts", 16)
    out = tmp_path / "out"
    gen = {"n": 2, "max_tokens": 8, "shards": 4,
           "ray": {"workers": 2, "num_cpus": 2, "num_cpus_per_worker": 1, "max_retries": 2}}
    killed, stop = [], threading.Event()
    with serve(_slow) as url:
        teacher = {"model": "fake-org/teacher", "backend": "openai", "base_url": url, "max_concurrency": 1,
                   "retry_base_s": 0.01}
        watcher = threading.Thread(target=_kill_one_worker_mid_shard, args=(out / "samples", killed, stop))
        watcher.start()
        try:
            summary = run(generate_ctx(out, prompts, teacher, gen))
        finally:
            stop.set()
            watcher.join()
    assert killed, "no Ray worker was killed mid-shard"
    rows = [r for p in sorted((out / "samples").glob("shard-?????.jsonl")) for r in read_jsonl(p)]
    keys = [(r["prompt_id"], r["sample_idx"]) for r in rows]
    assert len(keys) == len(set(keys)) == 32  # 0 duplicated
    assert set(keys) == {(f"p{i:04d}", s) for i in range(16) for s in range(2)}  # 0 lost
    assert summary["ray_workers"] == 2 and summary["samples"] == 32
