"""OpenAI-compatible HTTP backend on the official `openai` client (AsyncOpenAI): a `vllm serve` /
SGLang endpoint or a hosted API (DeepSeek, ...).

One chat-completions request per (prompt, sample_idx) with `seed = prompt_seed + sample_idx`, so
every sample succeeds or fails on its own. The requests run on an asyncio loop in a background
thread; `teacher.max_concurrency` bounds how many are on the wire (a semaphore), and each finished
sample is handed to the driver at once (`poll`), so it is written while the others still run.

Faults (fail closed). The client's own retries are off (`max_retries=0`): it counts attempts, and a
ten-minute outage outlasts any attempt count. Here a sample is retried while it has been failing for
less than `teacher.retry_budget_s` seconds, with exponential backoff and full jitter
(delay ~ U(0, retry_base_s * 2^attempt), capped at 60 s; a Retry-After header is honoured):
  transient  429, 408/409/425, 5xx, timeouts, dropped connections, malformed responses
  permanent  401 (bad key), 402 (no balance), 403, 404 (unknown model / wrong URL), 400/422
             (e.g. context length rejected), 429 "insufficient_quota" -> PermanentError, stage stops
A sample still failing when its budget runs out comes back with finish_reason "error"; the driver
keeps it apart from the samples and retries it on the next run.

The reasoning comes from `reasoning_content` (or `reasoning`) when the server splits it off (vLLM
with a reasoning parser, DeepSeek's API), else from `<think>` in the content. The served model id
(`response.model`) is kept per sample: an alias such as `deepseek-reasoner` changes what it serves.
The API key is read only from the environment variable `teacher.api_key_env`, never logged or
stored (a missing variable sends the placeholder key "EMPTY", fine for a local server).
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import random
import threading
import time

import httpx
import openai

from teachers.backend_base import GenOutput, GenRequest, PermanentError, drain

TRANSIENT_STATUS = {408, 409, 425, 429}
MAX_DELAY_S = 60.0
# SamplingParams fields the chat-completions API takes under the same name; the rest go in extra_body
# (vLLM's server reads them there: top_k, min_p, repetition_penalty, ...).
OPENAI_FIELDS = {"temperature", "top_p", "max_tokens", "stop", "presence_penalty", "frequency_penalty",
                 "logit_bias"}
HINTS = {401: "authentication failed: bad or missing API key", 402: "payment required: no balance left?",
         403: "permission denied", 404: "not found: unknown model or wrong base_url"}


class OpenAIBackend:
    name = "openai"

    def __init__(self, teacher_cfg, model_name: str | None, tokenizer=None):
        self.model = teacher_cfg.served_model_name or model_name or teacher_cfg.model
        self.cfg = teacher_cfg
        self.tokenizer = tokenizer
        self.capacity = teacher_cfg.max_concurrency
        self.results: queue.Queue = queue.Queue()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="openai-backend", daemon=True)
        self.thread.start()
        self._call(self._open())

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def _open(self) -> None:
        pool = httpx.Limits(max_connections=self.cfg.max_concurrency,
                            max_keepalive_connections=self.cfg.max_concurrency)
        self.client = openai.AsyncOpenAI(base_url=self.cfg.base_url, api_key=os.environ.get(self.cfg.api_key_env)
                                         or "EMPTY", max_retries=0, timeout=self.cfg.request_timeout_s,
                                         http_client=openai.DefaultAsyncHttpxClient(limits=pool))
        self.sem = asyncio.Semaphore(self.cfg.max_concurrency)
        self.tasks: set = set()

    def submit(self, request: GenRequest, sampling: dict) -> None:
        for idx in request.sample_indices:
            self.loop.call_soon_threadsafe(self._spawn, request, idx, sampling)

    def _spawn(self, request, idx, sampling) -> None:
        task = self.loop.create_task(self._sample(request, idx, sampling))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def poll(self) -> list[tuple[GenRequest, list[GenOutput]]]:
        """Samples finished since the last call (blocks until at least one); a permanent error raises."""
        items = drain(self.results)
        for _, item in items:
            if isinstance(item, BaseException):
                raise item
        return [(req, [out]) for req, out in items]

    async def _sample(self, req: GenRequest, idx: int, sampling: dict) -> None:
        try:
            out = await self._retrying(req, idx, sampling)
        except PermanentError as e:
            self.results.put((req, e))
            return
        except Exception as e:  # a bug here must not hang the driver
            self.results.put((req, e))
            return
        self.results.put((req, out))

    async def _retrying(self, req: GenRequest, idx: int, sampling: dict) -> GenOutput:
        kwargs, budget = self._kwargs(req, idx, sampling), self.cfg.retry_budget_s
        first_failure, attempt = None, 0
        while True:
            try:
                async with self.sem:
                    resp = await self.client.chat.completions.create(**kwargs)
                return self._output(resp, idx)
            except Exception as e:  # noqa: BLE001 - classified below; permanent ones raise
                message, retry_after = classify(e, self.cfg, self.model)
            now = time.monotonic()
            first_failure = first_failure if first_failure is not None else now
            left = budget - (now - first_failure)
            if left <= 0:
                return GenOutput(idx, "", 0, "error", error=f"{message} (still failing after {attempt + 1} "
                                 f"attempts over {now - first_failure:.0f}s; teacher.retry_budget_s = {budget:g})")
            await asyncio.sleep(min(self._delay(attempt, retry_after), left))
            attempt += 1

    def _kwargs(self, req: GenRequest, idx: int, sampling: dict) -> dict:
        body = {k: v for k, v in sampling.items() if k in OPENAI_FIELDS and v not in (None, [])}
        extra = {k: v for k, v in sampling.items() if k not in OPENAI_FIELDS and k not in ("n", "seed")
                 and v is not None}
        kwargs = {"model": self.model, "messages": req.messages, "n": 1, "seed": (req.seed + idx) & 0x7FFFFFFF,
                  **body}
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_DELAY_S)
        return random.uniform(0, min(self.cfg.retry_base_s * 2 ** attempt, MAX_DELAY_S))

    def _output(self, resp, idx: int) -> GenOutput:
        try:
            choice = resp.choices[0]
            message = choice.message
            content = message.content or ""
        except (AttributeError, IndexError, TypeError) as e:
            raise _Malformed(f"malformed response ({type(e).__name__}: {e})") from e
        extra = getattr(message, "model_extra", None) or {}
        reasoning = extra.get("reasoning_content") or extra.get("reasoning") or None
        usage = getattr(resp, "usage", None)
        tokens = getattr(usage, "completion_tokens", None) if usage is not None else None
        if tokens is None:
            tokens = self._count(reasoning, content)
        return GenOutput(idx, content, int(tokens), choice.finish_reason or "stop", reasoning=reasoning,
                         served_model=getattr(resp, "model", None) or None)

    def _count(self, reasoning: str | None, content: str) -> int:
        if self.tokenizer is None:
            return 0
        text = (reasoning or "") + content
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def close(self) -> None:
        if self.loop.is_closed():
            return

        async def _shutdown():
            for t in list(self.tasks):
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.client.close()

        try:
            self._call(_shutdown())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


class _Malformed(Exception):
    pass


def classify(e: Exception, cfg, model: str) -> tuple[str, float | None]:
    """(message, retry_after) for a transient error; raises PermanentError with one line for the rest."""
    if isinstance(e, openai.APIStatusError):
        code, text = e.status_code, _one_line(_error_text(e))
        quota = code == 429 and "insufficient_quota" in str(e.body)
        if (code in TRANSIENT_STATUS and not quota) or code >= 500:
            return f"HTTP {code}: {text}", _retry_after(e)
        hint = HINTS.get(code, "request rejected (context length or a sampling field the server refuses?)")
        if code == 401:
            hint += f" (teacher.api_key_env = {cfg.api_key_env})"
        if code == 404:
            hint += f" (model '{model}', base_url {cfg.base_url})"
        if quota:
            hint = "quota exhausted (insufficient_quota)"
        raise PermanentError(f"teacher HTTP {code}, {hint}: {text}") from None
    if isinstance(e, openai.APITimeoutError):
        return f"timeout after {cfg.request_timeout_s:g}s", None
    if isinstance(e, openai.APIConnectionError):
        return _one_line(f"connection error: {e.__cause__ or e}"), None
    if isinstance(e, (openai.APIResponseValidationError, json.JSONDecodeError, _Malformed, ValueError)):
        return _one_line(f"malformed response: {e}"), None
    raise e


def _error_text(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner.get("code") or inner)
        return str(inner)
    return str(getattr(e, "message", "") or e)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _retry_after(e: openai.APIStatusError) -> float | None:
    try:
        return float(e.response.headers["retry-after"])
    except (KeyError, ValueError, AttributeError):
        return None
