"""Stage hashes must not depend on what else ran in the process (CI found no cache hits after an eval)."""

import importlib.metadata

import pytest

from core.hashing import library_versions


def test_library_versions_ignore_a_patched_metadata_version(monkeypatch: pytest.MonkeyPatch) -> None:
    before = library_versions()
    real = importlib.metadata.version

    def answers_everything(name: str) -> str:  # what eval.lm_eval_runner._prepare_vllm does for "vllm"
        try:
            return real(name)
        except importlib.metadata.PackageNotFoundError:
            return "9.9.9"

    monkeypatch.setattr(importlib.metadata, "version", answers_everything)
    assert library_versions() == before


def test_library_versions_unchanged_after_preparing_lm_eval_vllm() -> None:
    from eval.lm_eval_runner import _prepare_vllm

    before = library_versions()
    _prepare_vllm()
    assert library_versions() == before
