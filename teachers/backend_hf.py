"""transformers backend: batched `generate` with sampling, for machines without vLLM.

Prompts are left-padded (decoder-only models continue from the right edge) and each batch draws
`n` samples per prompt with `num_return_sequences`. Seeding is per batch: the global torch seed is
set from the batch's prompt seeds before each call, so the same batch of prompts gives the same
samples on a re-run (the generate stage keeps batch composition fixed across resumes, which makes
resumed shards byte-identical on the same machine and thread count). Batches never span shards, so
they stay fixed whatever else is in flight; `submit` queues and `poll` runs the next batch.

Sampling arrives as SamplingParams fields and is mapped once here; a field `generate` cannot honour
is refused (the run stops) rather than silently ignored.
"""

from __future__ import annotations

from core.hashing import stable_hash
from teachers.backend_base import GenOutput, GenRequest, PermanentError

# SamplingParams field -> transformers GenerationConfig field, where one exists
HF_NAMES = {"repetition_penalty": "repetition_penalty", "min_p": "min_p", "min_tokens": "min_new_tokens"}
MAPPED = {"n", "temperature", "top_p", "top_k", "max_tokens", "stop"}

_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


class HFBackend:
    name = "transformers"

    def __init__(self, model_path: str, teacher_cfg, tokenizer, batch_size: int = 16):
        import torch
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = _DTYPES.get(teacher_cfg.dtype) or ("bfloat16" if self.device == "cuda" else "float32")
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype)).to(self.device)
        self.model.eval()
        self.tokenizer = tokenizer
        self.eos_ids = self._eos_ids()
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_ids[0]
        self.capacity = self.batch_size = batch_size
        self.queue: list[tuple[GenRequest, dict]] = []

    def submit(self, request: GenRequest, sampling: dict) -> None:
        self.queue.append((request, sampling))

    def poll(self) -> list[tuple[GenRequest, list[GenOutput]]]:
        """One batch: the queued requests of the first shard in the queue, at most batch_size."""
        shard, sampling = self.queue[0][0].shard, self.queue[0][1]
        batch = []
        while self.queue and len(batch) < self.batch_size and self.queue[0][0].shard == shard:
            batch.append(self.queue.pop(0)[0])
        if not any(r.sample_indices for r in batch):
            return [(r, []) for r in batch]
        return list(zip(batch, self.generate(batch, sampling)))

    def _eos_ids(self) -> list[int]:
        eos = self.model.generation_config.eos_token_id
        ids = eos if isinstance(eos, list) else ([eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        if not ids:
            raise ValueError("teacher model has no eos_token_id (generation_config or tokenizer)")
        return ids

    def _left_pad(self, requests: list[GenRequest]):
        width = max(len(r.prompt_ids) for r in requests)
        ids = [[self.pad_id] * (width - len(r.prompt_ids)) + r.prompt_ids for r in requests]
        mask = [[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in requests]
        t = self.torch
        return t.tensor(ids, device=self.device), t.tensor(mask, device=self.device), width

    def _finish(self, ids: list[int], max_tokens: int, stopped_early: bool) -> tuple[list[int], int, str]:
        """(text ids, generated token count, finish reason) for one generated row."""
        for i, tok in enumerate(ids):
            if tok in self.eos_ids:
                return ids[:i], i + 1, "stop"
            if tok == self.pad_id:  # finished by a stop string, then padded
                return ids[:i], i, "stop"
        return ids, len(ids), "length" if len(ids) >= max_tokens and not stopped_early else "stop"

    def _kwargs(self, sampling: dict) -> dict:
        unknown = sorted(set(sampling) - MAPPED - set(HF_NAMES))
        if unknown:
            raise PermanentError(f"teacher.sampling.{unknown[0]}: not supported by the transformers backend "
                                 f"(supported: {', '.join(sorted(MAPPED | set(HF_NAMES)))}); use backend vllm")
        temperature = sampling["temperature"]
        kwargs = dict(do_sample=temperature > 0, max_new_tokens=sampling["max_tokens"],
                      num_return_sequences=sampling["n"], pad_token_id=self.pad_id, eos_token_id=self.eos_ids)
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=sampling["top_p"], top_k=sampling.get("top_k") or 0)
        if sampling.get("stop"):
            kwargs.update(stop_strings=sampling["stop"], tokenizer=self.tokenizer)
        kwargs.update({HF_NAMES[k]: v for k, v in sampling.items() if k in HF_NAMES})
        return kwargs

    def generate(self, requests: list[GenRequest], sampling: dict) -> list[list[GenOutput]]:
        if not requests:
            return []
        input_ids, mask, width = self._left_pad(requests)
        self.torch.manual_seed(int(stable_hash([r.seed for r in requests])[:8], 16))
        kwargs = self._kwargs(sampling)
        max_tokens, n = sampling["max_tokens"], sampling["n"]
        with self.torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=mask, **kwargs)
        gen = out[:, width:].tolist()
        stopped_early = out.shape[1] - width < max_tokens
        results = []
        for r_i, req in enumerate(requests):
            wanted = set(req.sample_indices)
            outs = []
            for s in range(n):
                if s not in wanted:
                    continue
                text_ids, count, reason = self._finish(gen[r_i * n + s], max_tokens, stopped_early)
                text = self.tokenizer.decode(text_ids, skip_special_tokens=True)
                outs.append(GenOutput(s, text, count, reason))
            results.append(outs)
        return results

    def close(self) -> None:
        self.model = None
