"""Teachers: generation backends (vLLM offline, OpenAI-compatible HTTP, transformers) and sharded, resumable sampling."""
