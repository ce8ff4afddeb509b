"""The HTTP backend against a local fake OpenAI server that injects 429, 500, timeouts, dropped
connections and malformed JSON: every sample ends up accounted for, exactly once."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from factory.atomic import read_jsonl
from teachers.generate import run
from tests.teachers.helpers import generate_ctx, write_prompts

FAULTS = ["429", "500", "timeout", "drop", "malformed", "ok"]
ALWAYS_FAILING_SEED_MOD = 7  # seeds with seed % 7 == 0 get 503 forever -> permanent-failure rows


class FakeOpenAI(BaseHTTPRequestHandler):
    attempts: Counter = Counter()
    auth_headers: list = []
    lock = threading.Lock()

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        seed = body["seed"]
        with self.lock:
            attempt = self.attempts[seed]
            self.attempts[seed] += 1
            self.auth_headers.append(self.headers.get("Authorization"))
        if seed % ALWAYS_FAILING_SEED_MOD == 0:
            return self._send(503, b'{"error": "overloaded"}')
        fault = FAULTS[seed % len(FAULTS)] if attempt == 0 else "ok"
        if fault == "429":
            return self._send(429, b'{"error": "rate limited"}', {"Retry-After": "0"})
        if fault == "500":
            return self._send(500, b"internal error")
        if fault == "timeout":
            time.sleep(0.6)
        if fault == "drop":
            self.close_connection = True
            return self.connection.close()
        if fault == "malformed":
            return self._send(200, b'{"choices": [{"message": ')
        self._send(200, json.dumps(self._completion(seed, body)).encode())

    def _completion(self, seed: int, body: dict) -> dict:
        question = body["messages"][-1]["content"]
        if seed % 2:  # a server with a reasoning parser splits the reasoning off
            message = {"role": "assistant", "reasoning_content": f"thinking about {question}", "content": "42"}
        else:
            message = {"role": "assistant", "content": f"<think>thinking about {question}</think>42"}
        return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"completion_tokens": 7}}

    def _send(self, status: int, payload: bytes, headers: dict | None = None):
        try:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass


@pytest.fixture
def fake_server():
    FakeOpenAI.attempts = Counter()
    FakeOpenAI.auth_headers = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_every_sample_accounted_for_under_faults(fake_server, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_TEACHER_KEY", "sk-test-secret")
    prompts = write_prompts(tmp_path / "prompts", 12)
    teacher = {"model": "fake-org/teacher", "backend": "openai", "base_url": fake_server,
               "api_key_env": "FAKE_TEACHER_KEY", "max_retries": 3, "retry_base_s": 0.01,
               "request_timeout_s": 0.3, "max_concurrency": 8}
    ctx = generate_ctx(tmp_path / "out", prompts, teacher, {"n": 4, "max_tokens": 64, "shards": 2})
    summary = run(ctx)

    rows = [r for p in sorted((ctx.out / "samples").glob("shard-?????.jsonl")) for r in read_jsonl(p)]
    keys = [(r["prompt_id"], r["sample_idx"]) for r in rows]
    assert len(keys) == len(set(keys)) == 48 == summary["samples"]
    errors = [r for r in rows if r["finish_reason"] == "error"]
    assert errors and summary["errors"] == len(errors)
    assert all("gave up after 4 attempts: HTTP 503" in r["error"] and r["completion"] == "" for r in errors)
    good = [r for r in rows if r["finish_reason"] != "error"]
    assert all(r["answer"] == "42" and r["reasoning"].startswith("thinking about What is") for r in good)
    assert all(r["completion"].startswith("<think>thinking") and r["completion_tokens"] == 7 for r in good)
    retried = [s for s, n in FakeOpenAI.attempts.items() if n > 1 and s % ALWAYS_FAILING_SEED_MOD]
    assert len(retried) >= 20  # the faults really happened and were retried
    assert set(FakeOpenAI.auth_headers) == {"Bearer sk-test-secret"}
    for f in ctx.out.rglob("*"):
        assert not f.is_file() or b"sk-test-secret" not in f.read_bytes()
