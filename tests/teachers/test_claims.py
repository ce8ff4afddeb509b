"""Shard claims: leases with heartbeats. Two workers never hold one shard, a stale lease is taken over
and its old holder notices, and local workers sharing one stage folder, one of them killed mid-shard,
leave every key stored exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.atomic import read_jsonl
from teachers.claims import Lease, LeaseLost
from teachers.generate import run
from tests.teachers.fake_openai import serve
from tests.teachers.helpers import generate_ctx, write_prompts

ROOT = Path(__file__).resolve().parents[2]


def test_one_holder_then_takeover_of_a_stale_lease(tmp_path):
    path = tmp_path / "shard-00000.lease"
    first = Lease.try_claim(path, "other-host:1:a", ttl_s=0.4)
    assert first is not None and Lease.try_claim(path, "other-host:2:b", ttl_s=0.4) is None
    first._stop.set()  # the holder stalls: no more heartbeats
    first._thread.join()
    old = time.time() - 10
    os.utime(path, (old, old))
    second = Lease.try_claim(path, "other-host:2:b", ttl_s=0.4)
    assert second is not None and json.loads(path.read_text())["owner"] == "other-host:2:b"
    stalled = Lease(path, "other-host:1:a", ttl_s=0.4)  # the stalled holder wakes up and beats again
    time.sleep(0.3)
    with pytest.raises(LeaseLost, match="taken over"):
        stalled.check()
    stalled.release()
    assert path.exists()  # the loser's release leaves the new holder's lease alone
    second.release()
    assert not path.exists()


WORKER = """
import sys
sys.path.insert(0, {root!r})
from teachers.generate import generate_shards
from tests.teachers.helpers import generate_ctx
from pathlib import Path
import json
ctx = generate_ctx(Path({out!r}), Path({prompts!r}), json.loads({teacher!r}), json.loads({gen!r}))
generate_shards(ctx, worker_index={index}, num_workers=2)
"""


def _slow(seed, attempt):
    time.sleep(0.05)
    return "ok"


@pytest.mark.slow
def test_workers_with_one_killed_mid_shard_lose_and_duplicate_nothing(tmp_path):
    prompts = write_prompts(tmp_path / "prompts", 16)
    gen = {"n": 2, "max_tokens": 8, "shards": 4}
    out = tmp_path / "out"
    samples = out / "samples"
    with serve(_slow) as url:
        teacher = {"model": "fake-org/teacher", "backend": "openai", "base_url": url, "max_concurrency": 1,
                   "lease_ttl_s": 30, "retry_base_s": 0.01}
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "FACTORY_QUIET": "1"}

        def start(i):
            code = WORKER.format(root=str(ROOT), out=str(out), prompts=str(prompts), teacher=json.dumps(teacher),
                                 gen=json.dumps(gen), index=i)
            return subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)

        doomed, survivor = start(0), start(0)  # both start at shard 0: only claims keep them apart
        deadline = time.time() + 120
        victim = None
        while victim is None and time.time() < deadline:  # kill worker 0 once its shard is half written
            for lease in samples.glob("*.lease") if samples.exists() else []:
                try:
                    owner = json.loads(lease.read_text())["owner"]
                except (OSError, ValueError):
                    continue
                partial = lease.with_name(lease.name.replace(".lease", ".partial.jsonl"))
                if owner.split(":")[1] == str(doomed.pid) and partial.exists() and len(read_jsonl(partial)) >= 2:
                    victim = partial
            time.sleep(0.02)
        assert victim is not None, "worker 0 never got going"
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        kept = len(read_jsonl(victim))
        assert survivor.wait(timeout=180) == 0, survivor.stderr.read().decode()[-2000:]
        summary = run(generate_ctx(out, prompts, teacher, gen))  # the stage only checks and publishes
    rows = [r for p in sorted(samples.glob("shard-?????.jsonl")) for r in read_jsonl(p)]
    keys = [(r["prompt_id"], r["sample_idx"]) for r in rows]
    assert len(keys) == len(set(keys)) == 32  # 0 duplicated
    assert set(keys) == {(f"p{i:04d}", s) for i in range(16) for s in range(2)}  # 0 lost
    assert summary["new_samples"] == 0 and not list(samples.glob("*.lease")) and kept >= 2
