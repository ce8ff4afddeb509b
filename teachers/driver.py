"""Continuous submission over claimed shards: keep the backend full, write each sample as it finishes.

The driver walks the shards in order, claims each one it can (teachers.claims), and feeds the
backend that shard's missing requests, lazily, keeping `backend.capacity` requests in flight. When
the last request of one shard has been submitted it claims the next, so there is no barrier between
shards either. Every poll's finished samples are appended to their shard's partial file (fsynced)
at once; a shard is finalized (sorted, checksummed, manifest) when its last sample is in.

Faults. A `PermanentError` from the backend stops everything (the partial files stay for a resume
once the cause is fixed). A sample that failed transiently past the retry budget is written to the
shard's `failures.jsonl`, not to its samples: the shard stays unfinished, the run goes on with the
rest, and the stage fails at the end naming the count, so the failed keys are retried on the next
run. `max_consecutive_failures` failed samples in a row stop the stage at once (an outage longer
than the budget should not burn through every prompt). Shards held by another live worker are
waited for: they complete, or their lease expires and this worker takes them over.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from core.atomic import dumps
from teachers.claims import Lease, owner_id
from teachers.shards import PartialWriter, ShardPaths, discard, finalize, read_partial, shard_problem


class SamplesFailed(RuntimeError):
    pass


@dataclass
class _Shard:
    paths: ShardPaths
    prompts: list[dict]
    lease: Lease
    rows: list[dict]
    expected: set
    writer: PartialWriter
    started: float = field(default_factory=time.time)
    open_requests: int = 0
    submitted: bool = False
    failed: int = 0
    tokens: int = 0
    new: int = 0

    def done_keys(self) -> set:
        return {(r["prompt_id"], r["sample_idx"]) for r in self.rows}


class Driver:
    def __init__(self, job, backend, sampling: dict, n: int, ttl_s: float, max_consecutive: int, log):
        self.job, self.backend, self.sampling, self.n = job, backend, sampling, n
        self.ttl_s, self.max_consecutive, self.log = ttl_s, max_consecutive, log
        self.owner = owner_id()
        self.advance = lambda n=1, **_: None
        self.consecutive, self.failed_total, self.last_error = 0, 0, ""
        self.tokens = self.samples = 0
        self.started = time.time()

    def run(self, order: list[int], shards: list[list[dict]], root) -> dict:
        waiting: deque[int] = deque(order)
        busy: list[int] = []
        active: dict[int, _Shard] = {}
        inflight: dict[int, tuple[_Shard, int]] = {}  # id(request) -> (shard, samples still to come)
        feed = None
        try:
            while True:
                while len(inflight) < self.backend.capacity:
                    if feed is None:
                        feed = self._next_shard(waiting, busy, shards, root, active)
                        if feed is None:
                            break
                    req = next(feed[1], None)
                    if req is None:
                        feed[0].submitted = True
                        self._maybe_finish(feed[0], active)
                        feed = None
                        continue
                    feed[0].open_requests += 1
                    inflight[id(req)] = (feed[0], len(req.sample_indices))
                    self.backend.submit(req, self.sampling)
                if not inflight:
                    if not busy:
                        break
                    time.sleep(min(max(self.ttl_s / 4, 0.05), 5.0))
                    waiting.extend(busy)
                    busy.clear()
                    continue
                self._take(self.backend.poll(), inflight, active)
        finally:
            for st in active.values():
                st.writer.close()
                st.lease.release()
        if self.failed_total:
            raise SamplesFailed(f"generate: {self.failed_total} samples still failing after the retry budget "
                                f"(last: {self.last_error}); kept apart in samples/shard-*.failures.jsonl, "
                                "not stored as done: run again to retry them")
        return {"tokens": self.tokens, "samples": self.samples, "wall_s": round(time.time() - self.started, 3)}

    def _next_shard(self, waiting, busy, shards, root, active):
        while waiting:
            i = waiting.popleft()
            paths = ShardPaths(root, i)
            if shard_problem(paths) is None:
                continue
            lease = Lease.try_claim(paths.lease, self.owner, self.ttl_s)
            if lease is None:
                busy.append(i)
                continue
            if shard_problem(paths) is None:  # finished by its previous holder just before we claimed
                lease.release()
                continue
            if paths.manifest.exists() or paths.shard.exists():
                self.log(f"{paths.stem}: {shard_problem(paths)}; regenerating")
                discard(paths)
            rows = read_partial(paths.partial)
            paths.failures.unlink(missing_ok=True)  # this run retries them
            st = _Shard(paths, shards[i], lease, rows, {(p["prompt_id"], s) for p in shards[i] for s in range(self.n)},
                        PartialWriter(paths.partial))
            active[i] = st
            return st, self._requests(st, i)
        return None

    def _requests(self, st: _Shard, shard: int):
        done = st.done_keys()
        for req in self.job.requests(st.prompts, done):
            req.shard = shard
            yield req

    def _take(self, finished, inflight, active) -> None:
        by_shard: dict[int, list] = {}
        for req, outs in finished:
            st, left = inflight[id(req)]
            left -= len(outs)
            if left <= 0:
                del inflight[id(req)]
                st.open_requests -= 1
            else:
                inflight[id(req)] = (st, left)
            good = [o for o in outs if o.finish_reason != "error"]
            bad = [o for o in outs if o.finish_reason == "error"]
            rows = self.job.rows(req, good, last=left <= 0)
            by_shard.setdefault(st.paths.index, [st, [], []])
            by_shard[st.paths.index][1].extend(rows)
            by_shard[st.paths.index][2].extend((req, o) for o in bad)
        for st, rows, bad in by_shard.values():
            st.lease.check()
            st.writer.append(rows)
            st.rows += rows
            new_tokens = sum(r["completion_tokens"] for r in rows)
            st.tokens += new_tokens
            st.new += len(rows)
            self.tokens += new_tokens
            self.samples += len(rows)
            self._failures(st, bad, succeeded=bool(rows))
            if rows:
                elapsed = max(time.time() - self.started, 1e-9)
                self.advance(len(rows), rate=f"{self.samples / elapsed:.1f} samples/s {self.tokens / elapsed:.0f} tok/s")
        for st, _, _ in by_shard.values():
            self._maybe_finish(st, active)

    def _failures(self, st: _Shard, bad: list, succeeded: bool) -> None:
        if succeeded and not bad:
            self.consecutive = 0
            return
        if not bad:
            return
        with open(st.paths.failures, "a", encoding="utf-8") as f:
            for req, out in bad:
                f.write(dumps({"prompt_id": req.prompt_row["prompt_id"], "sample_idx": out.sample_idx,
                               "error": out.error}, indent=None) + "\n")
        st.failed += len(bad)
        self.failed_total += len(bad)
        self.consecutive = 0 if succeeded else self.consecutive + len(bad)
        self.last_error = bad[-1][1].error
        if self.consecutive >= self.max_consecutive:
            raise SamplesFailed(f"generate: {self.consecutive} samples in a row failed "
                                f"(teacher.max_consecutive_failures = {self.max_consecutive}); last: {self.last_error}")

    def _maybe_finish(self, st: _Shard, active: dict) -> None:
        if not st.submitted or st.open_requests or st.paths.index not in active:
            return
        del active[st.paths.index]
        st.writer.close()
        try:
            if st.failed:
                return
            st.lease.check()
            wall = time.time() - st.started
            stats = {"wall_s": round(wall, 3), "tokens_per_s": round(st.tokens / wall, 2) if wall else 0.0,
                     "samples_per_s": round(st.new / wall, 3) if wall else 0.0, "backend": self.backend.name,
                     "resumed": len(st.rows) > st.new}
            finalize(st.paths, st.rows, st.expected, stats)
            self.log(f"{st.paths.stem}: {st.new} new samples, {stats['tokens_per_s']:.1f} tokens/s")
        finally:
            st.lease.release()
