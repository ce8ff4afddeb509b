"""A local OpenAI-compatible chat-completions server for the HTTP backend's tests.

`FakeOpenAI.behaviour(seed, attempt)` picks each answer: "ok", an HTTP status ("401", "402", "429",
"500", "503"), "timeout" (answers after 0.6 s), "drop" (closes the connection) or "malformed"
(cut-off JSON). Every request is counted per seed, so tests can check what was retried. The model
id it reports (`served`) differs from the requested alias, as a hosted API's does.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVED = "fake-teacher-2026-01-01"


class FakeOpenAI(BaseHTTPRequestHandler):
    attempts: Counter = Counter()
    auth_headers: list = []
    bodies: list = []
    lock = threading.Lock()
    behaviour = staticmethod(lambda seed, attempt: "ok")

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        seed = body["seed"]
        with self.lock:
            attempt = self.attempts[seed]
            self.attempts[seed] += 1
            self.auth_headers.append(self.headers.get("Authorization"))
            self.bodies.append(body)
        action = self.behaviour(seed, attempt)
        if action.isdigit():
            status = int(action)
            error = {"401": "Invalid API key", "402": "Insufficient Balance"}.get(action, "try again")
            headers = {"Retry-After": "0"} if status == 429 else {}
            return self._send(status, json.dumps({"error": {"message": error, "code": status}}).encode(), headers)
        if action == "timeout":
            time.sleep(0.6)
        if action == "drop":
            self.close_connection = True
            return self.connection.close()
        if action == "malformed":
            return self._send(200, b'{"choices": [{"message": ')
        self._send(200, json.dumps(self._completion(seed, body)).encode())

    def _completion(self, seed: int, body: dict) -> dict:
        question = body["messages"][-1]["content"]
        if seed % 2:  # a server with a reasoning parser splits the reasoning off
            message = {"role": "assistant", "reasoning_content": f"thinking about {question}", "content": "42"}
        else:
            message = {"role": "assistant", "content": f"<think>thinking about {question}</think>42"}
        return {"id": "x", "object": "chat.completion", "created": 0, "model": SERVED,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"completion_tokens": 7, "prompt_tokens": 3, "total_tokens": 10}}

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


@contextmanager
def serve(behaviour):
    """Yield the base URL of a fresh server answering with `behaviour(seed, attempt)`."""
    FakeOpenAI.attempts = Counter()
    FakeOpenAI.auth_headers = []
    FakeOpenAI.bodies = []
    FakeOpenAI.behaviour = staticmethod(behaviour)
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
