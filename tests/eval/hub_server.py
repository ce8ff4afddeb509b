"""A local stand-in for the few Hugging Face Hub endpoints eval/release.py uses (HTTP, in a thread).

create_repo (POST /api/repos/create), create_branch, validate-yaml (model card metadata), list_repo_commits (GET /api/models/<repo>/commits/<rev>),
preupload (answers "regular" for every file, so contents arrive inline) and commit (NDJSON). `fail_commits`
makes the next N commit calls fail with HTTP 500 (huggingface_hub retries those itself) and `drop_commits`
closes the next N commit connections without a response (an interrupted upload that eval/release.py retries). Requests without the expected
Bearer token get 401. Dataset repos (`/api/datasets/...`, `create_repo(repo_type="dataset")`) are kept under
the key `datasets/<repo_id>`, model repos under `<repo_id>`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HubState:
    def __init__(self, token: str):
        self.token = token
        self.repos: dict[str, dict] = {}  # repo_id -> {private, files{path: bytes}, commits[list]}
        self.fail_commits = 0
        self.drop_commits = 0
        self.calls: list[str] = []


def make_handler(state: HubState):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, obj) -> None:
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                self._send(401, {"error": "Invalid credentials"})
                return False
            return True

        def _repo(self, parts):  # /api/models/<org>/<name>/... or /api/datasets/<org>/<name>/...
            return ("datasets/" if parts[2] == "datasets" else "") + f"{parts[3]}/{parts[4]}"

        def do_GET(self):
            parts = self.path.split("?")[0].split("/")
            state.calls.append(f"GET {self.path}")
            if not self._authorized():
                return
            if parts[1] == "api" and parts[2] in ("models", "datasets") and parts[5] == "commits":
                repo = state.repos.get(self._repo(parts))
                if repo is None:
                    return self._send(404, {"error": "Repository not found"})
                return self._send(200, list(reversed(repo["commits"])))
            self._send(404, {"error": f"not implemented: {self.path}"})

        def do_POST(self):
            parts = self.path.split("?")[0].split("/")
            data = self._body()
            state.calls.append(f"POST {self.path}")
            if not self._authorized():
                return
            if self.path.startswith("/api/repos/create"):
                req = json.loads(data)
                repo_id = ("datasets/" if req.get("type") == "dataset" else "") + f"{req['organization']}/{req['name']}"
                if repo_id in state.repos:
                    return self._send(409, {"error": "You already created this model repo", "url": repo_id})
                state.repos[repo_id] = {"private": req.get("visibility") == "private", "files": {}, "commits": []}
                return self._send(200, {"url": f"{self._host()}/{repo_id}", "name": repo_id})
            if self.path.startswith("/api/validate-yaml"):  # the model card's metadata check
                return self._send(200, {"warnings": []})
            if len(parts) < 6 or parts[1] != "api" or parts[2] not in ("models", "datasets"):
                return self._send(404, {"error": f"not implemented: {self.path}"})
            repo_id = self._repo(parts)
            if parts[5] == "branch":
                return self._send(200, {})
            if parts[5] == "preupload":
                files = json.loads(data)["files"]
                return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                   "shouldIgnore": False} for f in files]})
            if parts[5] == "commit":
                if state.drop_commits > 0:  # connection lost mid-upload: no response at all
                    state.drop_commits -= 1
                    self.close_connection = True
                    return None
                if state.fail_commits > 0:
                    state.fail_commits -= 1
                    return self._send(500, {"error": "upstream connection reset"})
                return self._commit(repo_id, data)
            self._send(404, {"error": f"not implemented: {self.path}"})

        def _commit(self, repo_id: str, data: bytes):
            repo = state.repos[repo_id]
            title = ""
            for line in data.splitlines():
                item = json.loads(line)
                if item["key"] == "header":
                    title = item["value"]["summary"]
                elif item["key"] == "file":
                    repo["files"][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            sha = hashlib.sha1(data).hexdigest()
            repo["commits"].append({"id": sha, "title": title, "message": "", "date": "2025-01-01T00:00:00.000Z",
                                    "authors": [{"user": "tester"}]})
            self._send(200, {"commitUrl": f"{self._host()}/{repo_id}/commit/{sha}", "commitOid": sha})

        def _host(self) -> str:
            return f"http://{self.server.server_address[0]}:{self.server.server_address[1]}"

    return Handler


class LocalHub:
    def __init__(self, token: str):
        self.state = HubState(token)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.state))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
