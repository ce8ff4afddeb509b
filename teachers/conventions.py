"""Teacher conventions: how each reasoning-model family formats prompts and chains of thought.

The data lives in `conventions.yaml` (one entry per family: DeepSeek-R1, its distills, QwQ, Qwen3
thinking mode, Qwen2.5(-Math), Llama-3, SmolLM2, ChatML, generic); teachers/families.py uses the same
table for students (template, turn end, pad, stop tokens). The code here turns a prompt row into the teacher's prompt token ids and a
raw completion into the stored form `<think>reasoning</think>answer`, so every backend and every
later stage sees the same text (chat-template mismatches are a classic distillation bug:
LLaMA-Factory #6987, open-r1 #388).

R1 and QwQ templates end the generation prompt with "<think>\\n": their completions start inside
the reasoning, without the opening tag. `complete_text` prepends it; it also detects that case from
the rendered prompt, so a convention set to `generic` still stores well-formed completions.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import Field

from core.schema_base import Strict
from core.think import split_think

HERE = Path(__file__).resolve().parent
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


class Detect(Strict):
    """How a tokenizer is recognised as a family (see conventions.yaml)."""

    tokens: list[str] = Field(default_factory=list)
    template_has: list[str] = Field(default_factory=list)


class Convention(Strict):
    """One teacher family's formatting rules (see conventions.yaml for the meaning of each field)."""

    name: str
    description: str = ""
    chat_template: str = "tokenizer"
    opens_think: bool = False
    template_kwargs: dict = Field(default_factory=dict)
    stop: list[str] = Field(default_factory=list)
    sampling: dict = Field(default_factory=dict)
    detect: Detect | None = None
    turn_end: str | None = None
    stop_tokens: list[str] = Field(default_factory=list)
    pad_candidates: list[str] = Field(default_factory=list)
    base_template: str | None = None


@lru_cache(maxsize=1)
def _registry() -> dict[str, Convention]:
    data = yaml.safe_load((HERE / "conventions.yaml").read_text(encoding="utf-8"))
    return {name: Convention(name=name, **entry) for name, entry in data.items()}


def known_conventions() -> list[str]:
    return sorted(_registry())


def conventions_in_order() -> list[Convention]:
    """The entries in file order: detection tries them in this order."""
    return list(_registry().values())


def get_convention(name: str) -> Convention:
    """The convention called `name`; an unknown name is a one-line error listing the known ones."""
    reg = _registry()
    if name not in reg:
        raise ValueError(f"teacher.convention: unknown convention '{name}' (known: {', '.join(sorted(reg))})")
    return reg[name]


def chat_template_for(convention: Convention, tokenizer) -> str | None:
    """The template source: the tokenizer's own, or a .jinja file shipped beside this module."""
    if convention.chat_template == "tokenizer":
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(f"teacher tokenizer has no chat template (convention '{convention.name}' uses the "
                             "tokenizer's own); pick a convention with a template file")
        return None
    return (HERE / convention.chat_template).read_text(encoding="utf-8")


def messages_for(prompt_row: dict) -> list[dict]:
    """A prompt row as chat messages: one user turn."""
    return [{"role": "user", "content": prompt_row["prompt"]}]


def render_prompt(tokenizer, prompt_row: dict, convention: Convention) -> str:
    """The prompt text the teacher sees (chat template applied, generation prompt added)."""
    return tokenizer.apply_chat_template(
        messages_for(prompt_row), tokenize=False, add_generation_prompt=True,
        chat_template=chat_template_for(convention, tokenizer), **convention.template_kwargs)


def render_prompt_ids(tokenizer, prompt_row: dict, convention: Convention) -> list[int]:
    """Prompt token ids; the template's text already holds any BOS, so none is added twice."""
    return tokenizer(render_prompt(tokenizer, prompt_row, convention), add_special_tokens=False)["input_ids"]


def prompt_opens_think(rendered_prompt: str, convention: Convention) -> bool:
    return convention.opens_think or rendered_prompt.rstrip().endswith(THINK_OPEN)


def complete_text(generated: str, opens_think: bool) -> str:
    """The stored completion: the generated text, with the opening tag the template swallowed put back."""
    if opens_think and not generated.lstrip().startswith(THINK_OPEN):
        return THINK_OPEN + "\n" + generated
    return generated


def split_completion(text: str) -> tuple[str, str, bool]:
    """(reasoning, answer, truncated). No `</think>` means truncated and NO answer (lm-eval issue 3382).

    One parser for the whole factory: core/think.py.
    """
    reasoning, answer, _format_ok, truncated = split_think(text)
    return reasoning, ("" if truncated else answer), truncated
