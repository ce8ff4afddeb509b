"""Rejection-sampled SFT data, the DeepSeek-R1 rule (DeepSeek-AI 2025, "DeepSeek-R1", section 2.3.3).

R1 keeps only verified-correct samples and "filtered out chain-of-thought with mixed languages, long
paragraphs, and code blocks". Here, per sample and in this order (the first failing check is the
one counted in `drops`):
1. not correct (see samples.is_correct)      -> `not_correct`
2. `lang_ok` is false (if drop_mixed_language) -> `mixed_language`
3. a paragraph (text between blank lines) longer than max_paragraph_chars -> `long_paragraph`
4. a ``` code block in a prompt whose task is not `code` (if drop_code_in_non_code) -> `code_in_non_code`
5. beyond max_per_prompt kept samples of that prompt (lowest sample_idx first, so the cap does not
   bias length) -> `over_cap`
Rows are TRL conversational SFT: `messages` = [user prompt, assistant `<think>reasoning</think>answer`].
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

from datasets import Features, List, Value

from factory.data.config import SFTDataConfig
from factory.data.samples import PromptGroup, assistant_message, is_correct, tokens, user_message

RULE = "R1 rejection sampling: verified-correct samples, minus mixed language, long paragraphs, code in non-code"
CITATION = "DeepSeek-AI (2025), DeepSeek-R1: Incentivizing Reasoning Capability in LLMs via RL, sec. 2.3.3"
MESSAGES = List({"role": Value("string"), "content": Value("string")})
FEATURES = Features({"messages": MESSAGES, "prompt_id": Value("string"), "sample_idx": Value("int64"),
                     "completion_tokens": Value("int64"), "task": Value("string")})
DROP_KEYS = ("not_correct", "mixed_language", "long_paragraph", "code_in_non_code", "over_cap")
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def longest_paragraph(text: str) -> int:
    return max((len(p) for p in PARAGRAPH_BREAK.split(text)), default=0)


def _reject_reason(sample: dict, task: str, cfg: SFTDataConfig) -> str | None:
    if not is_correct(sample):
        return "not_correct"
    if cfg.drop_mixed_language and sample.get("lang_ok") is False:
        return "mixed_language"
    text = f"{sample.get('reasoning') or ''}\n\n{sample.get('answer') or ''}"
    if longest_paragraph(text) > cfg.max_paragraph_chars:
        return "long_paragraph"
    if cfg.drop_code_in_non_code and task != "code" and "```" in text:
        return "code_in_non_code"
    return None


def rows_for_prompt(group: PromptGroup, cfg: SFTDataConfig, drops: Counter) -> list[dict]:
    task = group.prompt.get("task", "")
    rows = []
    for sample in group.samples:
        reason = _reject_reason(sample, task, cfg)
        if reason is None and len(rows) >= cfg.max_per_prompt:
            reason = "over_cap"
        if reason:
            drops[reason] += 1
            continue
        rows.append({"messages": [user_message(group.text), assistant_message(sample)],
                     "prompt_id": group.prompt_id, "sample_idx": sample["sample_idx"],
                     "completion_tokens": tokens(sample), "task": task})
    return rows


def build(groups: Iterable[PromptGroup], cfg: SFTDataConfig, drops: Counter) -> Iterator[dict]:
    for group in groups:
        yield from rows_for_prompt(group, cfg, drops)
