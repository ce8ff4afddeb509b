"""Prompt dedup and decontamination against held-out eval sets.

Two checks keep eval prompts out of training data (DESIGN.md, "Data contracts"):
- exact: the prompt equals an eval prompt after whitespace/case normalization;
- n-gram: the prompt shares a word n-gram (n = `decontaminate_ngram`, 13 as in the GPT-3 paper,
  Brown et al. 2020, App. C, and open-r1's decontaminate script) with an eval prompt.

Procedural sets (reasoning-gym) wrap every question in the same instructions, so a long template
alone would match every training prompt. N-grams that occur in more than `template_ngram_share` of an
eval set's prompts (when the set has at least `MIN_PROMPTS_FOR_TEMPLATE` prompts) are that set's template,
not its content, and do not count as overlap. A prompt shorter than n words has no n-grams: only the
exact check applies to it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

WORD = re.compile(r"\w+", re.UNICODE)
MIN_PROMPTS_FOR_TEMPLATE = 10


def normalize(text: str) -> str:
    """Lower-case, collapse whitespace, strip: the key of the exact check and of dedup."""
    return " ".join(text.lower().split())


def word_ngrams(text: str, n: int) -> set[int]:
    """Hashes of the word n-grams of `text` (lower-cased \\w+ tokens); empty when shorter than n words."""
    words = WORD.findall(text.lower())
    return {hash(tuple(words[i:i + n])) for i in range(len(words) - n + 1)}


class Decontaminator:
    """An index of every eval set's prompts; `check(prompt)` says which rule a training prompt breaks."""

    def __init__(self, n: int, template_ngram_share: float | None = 0.5):
        self.n = n
        self.template_ngram_share = template_ngram_share
        self.exact: set[str] = set()
        self.ngrams: set[int] = set()

    def add_eval_set(self, prompts: Iterable[str]) -> None:
        prompts = list(prompts)
        per_prompt = [word_ngrams(p, self.n) for p in prompts]
        template = self._template_ngrams(per_prompt)
        for text, grams in zip(prompts, per_prompt):
            self.exact.add(normalize(text))
            self.ngrams.update(grams - template)

    def _template_ngrams(self, per_prompt: list[set[int]]) -> set[int]:
        if self.template_ngram_share is None or len(per_prompt) < MIN_PROMPTS_FOR_TEMPLATE:
            return set()
        counts = Counter(g for grams in per_prompt for g in grams)
        limit = self.template_ngram_share * len(per_prompt)
        return {g for g, c in counts.items() if c > limit}

    def check(self, prompt: str) -> str | None:
        """'exact', 'ngram', or None when the prompt is clean."""
        if normalize(prompt) in self.exact:
            return "exact"
        if self.ngrams and not self.ngrams.isdisjoint(word_ngrams(prompt, self.n)):
            return "ngram"
        return None


class Deduplicator:
    """Remembers normalized prompts; `seen(prompt)` is True for the second and later copies."""

    def __init__(self):
        self._keys: set[str] = set()

    def seen(self, prompt: str) -> bool:
        key = normalize(prompt)
        if key in self._keys:
            return True
        self._keys.add(key)
        return False
