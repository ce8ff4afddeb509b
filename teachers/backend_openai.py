"""OpenAI-compatible HTTP backend: a `vllm serve` / SGLang endpoint or a hosted API (DeepSeek, ...).

One chat-completions request per (prompt, sample_idx) with `seed = prompt_seed + sample_idx`, so
every sample succeeds or fails on its own. Requests run concurrently (asyncio + httpx) under
`teacher.max_concurrency`. Retries, up to `teacher.max_retries`, with exponential backoff and full
jitter (delay ~ U(0, base * 2^attempt), capped; a 429's Retry-After is honoured) on 429, 5xx,
timeouts, dropped connections and malformed JSON. A sample still failing after that is returned as a
permanent-failure record (finish_reason "error", the error text), so it is accounted for, never lost.

The reasoning comes from `reasoning_content` (or `reasoning`) when the server splits it off (vLLM
with a reasoning parser, DeepSeek's API), else from `<think>` in the content. The API key is read
only from the environment variable named by `teacher.api_key_env` and is never logged or stored; a
missing variable sends no Authorization header (fine for a local server).
"""

from __future__ import annotations

import asyncio
import json
import os
import random

import httpx

from teachers.backend_base import GenOutput, GenRequest, SamplingSpec

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_DELAY_S = 60.0


class _Retryable(Exception):
    def __init__(self, msg: str, retry_after: float | None = None):
        super().__init__(msg)
        self.retry_after = retry_after


class OpenAIBackend:
    name = "openai"

    def __init__(self, teacher_cfg, model_name: str | None, tokenizer=None):
        self.url = teacher_cfg.base_url.rstrip("/") + "/chat/completions"
        self.model = teacher_cfg.served_model_name or model_name or teacher_cfg.model
        self.cfg = teacher_cfg
        self.tokenizer = tokenizer
        key = os.environ.get(teacher_cfg.api_key_env)
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.retry_base_s = teacher_cfg.retry_base_s

    def generate(self, requests: list[GenRequest], spec: SamplingSpec) -> list[list[GenOutput]]:
        return asyncio.run(self._generate(requests, spec))

    async def _generate(self, requests, spec):
        sem = asyncio.Semaphore(self.cfg.max_concurrency)
        limits = httpx.Limits(max_connections=self.cfg.max_concurrency)
        async with httpx.AsyncClient(timeout=self.cfg.request_timeout_s, limits=limits) as client:
            jobs = [[self._sample(client, sem, r, i, spec) for i in r.sample_indices] for r in requests]
            flat = await asyncio.gather(*(j for per in jobs for j in per))
        out, pos = [], 0
        for per in jobs:
            out.append(list(flat[pos:pos + len(per)]))
            pos += len(per)
        return out

    def _payload(self, req: GenRequest, idx: int, spec: SamplingSpec) -> dict:
        body = {"model": self.model, "messages": req.messages, "n": 1, "temperature": spec.temperature,
                "top_p": spec.top_p, "max_tokens": spec.max_tokens, "seed": (req.seed + idx) & 0x7FFFFFFF}
        if spec.stop:
            body["stop"] = spec.stop
        if spec.top_k:
            body["top_k"] = spec.top_k
        return body

    async def _sample(self, client, sem, req: GenRequest, idx: int, spec: SamplingSpec) -> GenOutput:
        payload, last = self._payload(req, idx, spec), "no attempt"
        for attempt in range(self.cfg.max_retries + 1):
            try:
                async with sem:
                    resp = await client.post(self.url, json=payload, headers=self.headers)
                return self._parse(resp, idx)
            except _Retryable as e:
                last, wait = str(e), e.retry_after
            except (httpx.TimeoutException, httpx.TransportError) as e:
                last, wait = f"{type(e).__name__}: {e}", None
            except _Permanent as e:
                return GenOutput(idx, "", 0, "error", error=str(e))
            if attempt < self.cfg.max_retries:
                await asyncio.sleep(self._delay(attempt, wait))
        return GenOutput(idx, "", 0, "error", error=f"gave up after {self.cfg.max_retries + 1} attempts: {last}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_DELAY_S)
        return random.uniform(0, min(self.retry_base_s * 2 ** attempt, MAX_DELAY_S))

    def _parse(self, resp: httpx.Response, idx: int) -> GenOutput:
        if resp.status_code in RETRY_STATUS:
            raise _Retryable(f"HTTP {resp.status_code}", _retry_after(resp))
        if resp.status_code >= 400:
            raise _Permanent(f"HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            data = resp.json()
            choice = data["choices"][0]
            message = choice["message"]
            content = message.get("content") or ""
        except (json.JSONDecodeError, KeyError, IndexError, TypeError) as e:
            raise _Retryable(f"malformed response ({type(e).__name__}: {e})") from e
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        tokens = (data.get("usage") or {}).get("completion_tokens")
        if tokens is None:
            tokens = self._count(reasoning, content)
        return GenOutput(idx, content, int(tokens), choice.get("finish_reason") or "stop", reasoning=reasoning)

    def _count(self, reasoning: str | None, content: str) -> int:
        if self.tokenizer is None:
            return 0
        text = (reasoning or "") + content
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def close(self) -> None:
        pass


class _Permanent(Exception):
    pass


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return float(resp.headers["retry-after"])
    except (KeyError, ValueError):
        return None
