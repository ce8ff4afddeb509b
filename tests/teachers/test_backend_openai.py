"""The HTTP backend (official openai client) against a local fake server: transient faults are retried
within a time budget and every sample ends up stored exactly once; permanent ones stop the stage;
samples still failing are kept apart and retried on the next run."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from core.atomic import read_jsonl
from factory.cli import app
from teachers.driver import SamplesFailed
from teachers.generate import run
from tests.conftest import minimal_recipe
from tests.teachers.fake_openai import SERVED, FakeOpenAI, serve
from tests.teachers.helpers import generate_ctx, write_prompts

FAULTS = ["429", "500", "timeout", "drop", "malformed", "ok"]
GEN = {"n": 4, "max_tokens": 64, "shards": 2}


def _teacher(url: str, **extra) -> dict:
    return {"model": "fake-org/teacher", "backend": "openai", "base_url": url, "api_key_env": "FAKE_TEACHER_KEY",
            "retry_budget_s": 5, "retry_base_s": 0.01, "request_timeout_s": 0.3, "max_concurrency": 8, **extra}


def _rows(ctx) -> list[dict]:
    return [r for p in sorted((ctx.out / "samples").glob("shard-?????.jsonl")) for r in read_jsonl(p)]


def test_transient_faults_are_retried_and_every_sample_stored_once(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_TEACHER_KEY", "sk-test-secret")
    prompts = write_prompts(tmp_path / "prompts", 12)
    with serve(lambda seed, attempt: FAULTS[seed % len(FAULTS)] if attempt == 0 else "ok") as url:
        ctx = generate_ctx(tmp_path / "out", prompts, _teacher(url), GEN)
        summary = run(ctx)
    rows = _rows(ctx)
    keys = [(r["prompt_id"], r["sample_idx"]) for r in rows]
    assert len(keys) == len(set(keys)) == 48 == summary["samples"]  # 0 lost, 0 duplicated
    assert summary["errors"] == 0 and all(r["finish_reason"] == "stop" for r in rows)
    assert all(r["answer"] == "42" and r["reasoning"].startswith("thinking about What is") for r in rows)
    assert all(r["completion"].startswith("<think>thinking") and r["completion_tokens"] == 7 for r in rows)
    assert {r["served_model"] for r in rows} == {SERVED} and {r["teacher"] for r in rows} == {"fake-org/teacher"}
    retried = [s for s, n in FakeOpenAI.attempts.items() if n > 1]
    assert len(retried) >= 30  # the faults really happened and were retried
    assert set(FakeOpenAI.auth_headers) == {"Bearer sk-test-secret"}
    for f in ctx.out.rglob("*"):
        assert not f.is_file() or b"sk-test-secret" not in f.read_bytes()


def test_sampling_block_reaches_the_request(tmp_path):
    prompts = write_prompts(tmp_path / "prompts", 2)
    with serve(lambda seed, attempt: "ok") as url:
        run(generate_ctx(tmp_path / "out", prompts, _teacher(url, sampling={"top_k": 20, "min_p": 0.05}),
                         {**GEN, "temperature": 0.7, "top_p": 0.9, "max_tokens": 33}))
    body = FakeOpenAI.bodies[0]
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["n"]) == (0.7, 0.9, 33, 1)
    assert (body["top_k"], body["min_p"]) == (20, 0.05)  # extra_body: vLLM's server reads them


def test_samples_failing_past_the_budget_are_kept_apart_then_retried(tmp_path):
    prompts = write_prompts(tmp_path / "prompts", 6)
    broken = {"on": True}
    with serve(lambda seed, attempt: "503" if broken["on"] and seed % 5 == 0 else "ok") as url:
        ctx = generate_ctx(tmp_path / "out", prompts, _teacher(url, retry_budget_s=0.3), GEN)
        with pytest.raises(SamplesFailed, match=r"samples still failing .*HTTP 503"):
            run(ctx)
        samples = ctx.out / "samples"
        failed = [r for p in samples.glob("*.failures.jsonl") for r in read_jsonl(p)]
        stored = [r for p in samples.glob("*.partial.jsonl") for r in read_jsonl(p)]
        assert failed and len(failed) + len(stored) == 24  # every sample is either stored or kept apart
        assert not {(r["prompt_id"], r["sample_idx"]) for r in failed} & {
            (r["prompt_id"], r["sample_idx"]) for r in stored}
        assert all(r["finish_reason"] != "error" for r in stored)
        assert len(list(samples.glob("shard-?????.jsonl"))) < 2  # a shard with failures never completes
        before = dict(FakeOpenAI.attempts)
        broken["on"] = False
        summary = run(ctx)  # resume: only the failed keys are asked again
    assert summary["new_samples"] == len(failed) and len(_rows(ctx)) == 24
    assert not list(samples.glob("*.failures.jsonl"))
    asked_again = {s for s, n in FakeOpenAI.attempts.items() if n > before.get(s, 0)}
    assert asked_again == {s for s in before if s % 5 == 0}


def test_consecutive_failures_stop_the_stage(tmp_path):
    prompts = write_prompts(tmp_path / "prompts", 20)
    with serve(lambda seed, attempt: "500") as url:
        ctx = generate_ctx(tmp_path / "out", prompts, _teacher(url, retry_budget_s=0.2, max_consecutive_failures=5,
                                                              max_concurrency=2), GEN)
        # Failures arrive per batch of up to max_concurrency, so the run may count 5 or 6 when it stops.
        stop = r"[56] samples in a row failed \(teacher.max_consecutive_failures = 5\)"
        with pytest.raises(SamplesFailed, match=stop):
            run(ctx)
    assert len(FakeOpenAI.attempts) < 80  # stopped early, not after trying every sample


@pytest.mark.parametrize("status, cause", [("401", "authentication failed"), ("402", "payment required"),
                                           ("404", "not found: unknown model"), ("400", "request rejected")])
def test_permanent_error_fails_the_run_with_its_cause(status, cause, tmp_path, write_recipe):
    data = minimal_recipe(run_dir=str(tmp_path / "runs"))
    with serve(lambda seed, attempt: status) as url:
        data["teacher"] = _teacher(url, retry_budget_s=60)
        data["generation"] = {"n": 2, "max_tokens": 8, "shards": 2}
        res = CliRunner().invoke(app, ["run", str(write_recipe(data)), "--until", "generate"])
    assert res.exit_code == 1, res.output
    assert f"HTTP {status}, {cause}" in res.output and "finished" not in res.output
    runs = tmp_path / "runs"
    assert not [d for d in runs.rglob("generate-*") if d.is_dir() and not d.name.endswith(".partial")]
    assert not list(runs.rglob("shard-?????.jsonl"))  # nothing stored as done
    assert sum(FakeOpenAI.attempts.values()) <= 8 + 1  # not retried: at most what was in flight


def test_an_outage_shorter_than_the_budget_loses_nothing(tmp_path):
    """Retries are bounded by time, not attempts: a 1.5 s outage outlasts the 7 attempts the old
    backend allowed with this backoff, and every sample is still stored."""
    prompts = write_prompts(tmp_path / "prompts", 4)
    first = []

    def outage(seed, attempt):  # down for 1.5 s from the first request on
        first.append(first[0] if first else time.monotonic())
        return "503" if time.monotonic() < first[0] + 1.5 else "ok"

    with serve(outage) as url:
        ctx = generate_ctx(tmp_path / "out", prompts, _teacher(url, retry_budget_s=30, retry_base_s=0.005), GEN)
        summary = run(ctx)
    assert summary["samples"] == 16 and len({(r["prompt_id"], r["sample_idx"]) for r in _rows(ctx)}) == 16
    assert max(FakeOpenAI.attempts.values()) > 7
