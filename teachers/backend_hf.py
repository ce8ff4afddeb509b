"""transformers backend: batched `generate` with sampling, for machines without vLLM.

Prompts are left-padded (decoder-only models continue from the right edge) and each batch draws
`n` samples per prompt with `num_return_sequences`. Seeding is per batch: the global torch seed is
set from the batch's prompt seeds before each call, so the same batch of prompts gives the same
samples on a re-run (the generate stage keeps batch composition fixed across resumes, which makes
resumed shards byte-identical on the same machine and thread count).
"""

from __future__ import annotations

from factory.hashing import stable_hash
from teachers.backend_base import GenOutput, GenRequest, SamplingSpec

_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


class HFBackend:
    name = "transformers"

    def __init__(self, model_path: str, teacher_cfg, tokenizer):
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

    def generate(self, requests: list[GenRequest], spec: SamplingSpec) -> list[list[GenOutput]]:
        if not requests:
            return []
        input_ids, mask, width = self._left_pad(requests)
        self.torch.manual_seed(int(stable_hash([r.seed for r in requests])[:8], 16))
        kwargs = dict(do_sample=spec.temperature > 0, max_new_tokens=spec.max_tokens, num_return_sequences=spec.n,
                      pad_token_id=self.pad_id, eos_token_id=self.eos_ids)
        if spec.temperature > 0:
            kwargs.update(temperature=spec.temperature, top_p=spec.top_p, top_k=spec.top_k or 0)
        if spec.stop:
            kwargs.update(stop_strings=spec.stop, tokenizer=self.tokenizer)
        with self.torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=mask, **kwargs)
        gen = out[:, width:].tolist()
        stopped_early = out.shape[1] - width < spec.max_tokens
        results = []
        for r_i, req in enumerate(requests):
            wanted = set(req.sample_indices)
            outs = []
            for s in range(spec.n):
                if s not in wanted:
                    continue
                text_ids, count, reason = self._finish(gen[r_i * spec.n + s], spec.max_tokens, stopped_early)
                text = self.tokenizer.decode(text_ids, skip_special_tokens=True)
                outs.append(GenOutput(s, text, count, reason))
            results.append(outs)
        return results

    def close(self) -> None:
        self.model = None
