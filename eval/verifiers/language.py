"""Language consistency: the share of the reasoning written in the prompt's script (DeepSeek-R1).

R1 adds a language-consistency reward, "the proportion of target language words in the CoT", to stop
mixed-language reasoning, and drops mixed-language samples in rejection sampling. We measure it by
script (Unicode block of each letter: LATIN, CYRILLIC, CJK, ...), which needs no language model: the
prompt's dominant script is the target; digits, punctuation and math symbols do not count.
Chinese/Japanese/Korean scripts (Han, kana, Hangul) form one "CJK" group.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

_CJK_PREFIXES = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")


def script_of(char: str) -> str | None:
    """The script group of a letter, or None for anything that is not a letter."""
    if not char.isalpha():
        return None
    if char.isascii():
        return "LATIN"
    name = unicodedata.name(char, "")
    if name.startswith(_CJK_PREFIXES):
        return "CJK"
    return name.split(" ", 1)[0] or None


def script_counts(text: str) -> Counter:
    return Counter(s for s in map(script_of, text) if s is not None)


def dominant_script(text: str) -> str | None:
    counts = script_counts(text)
    return counts.most_common(1)[0][0] if counts else None


def language_share(reasoning: str, prompt_text: str) -> float:
    """Share of the reasoning's letters in the prompt's dominant script (1.0 when either has no letters)."""
    target = dominant_script(prompt_text)
    counts = script_counts(reasoning)
    total = sum(counts.values())
    if target is None or total == 0:
        return 1.0
    return counts[target] / total


def language_ok(reasoning: str, prompt: dict | str, threshold: float | None) -> bool:
    """True when the reasoning's share in the prompt's script is >= threshold (always True when threshold is None)."""
    if threshold is None:
        return True
    prompt_text = prompt if isinstance(prompt, str) else str(prompt.get("prompt", ""))
    return language_share(reasoning, prompt_text) >= threshold
