"""Recipe sections owned by dataset building: `prompts` and `datasets`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from core.schema_base import Strict, check_slug


class PromptSource(Strict):
    """One place prompts come from. Columns map the source's names onto ours (prompt, gold, ...)."""

    kind: Literal["reasoning_gym", "jsonl", "parquet", "hub"]
    name: str = Field(description="a label for this source (for reasoning_gym: the dataset name unless `dataset` is set)")
    dataset: str | None = Field(None, description="reasoning-gym dataset name when it differs from `name`")
    size: int | None = Field(None, gt=0, description="items to draw (reasoning_gym) or keep (files)")
    seed: int = 0
    config: dict = Field(default_factory=dict, description="extra keyword arguments for the source")
    path: str | None = Field(None, description="local file (jsonl / parquet)")
    hub_id: str | None = None
    subset: str | None = None
    split: str = "train"
    columns: dict[str, str] = Field(default_factory=dict, description="our name -> source column")
    task: str | None = Field(None, description="math | code | procedural:<name>; inferred for reasoning_gym")

    @model_validator(mode="after")
    def _needs_location(self):
        if self.kind in ("jsonl", "parquet") and not self.path:
            raise ValueError(f"kind '{self.kind}' needs a path")
        if self.kind == "hub" and not self.hub_id:
            raise ValueError("kind 'hub' needs hub_id")
        if self.kind == "reasoning_gym" and not self.size:
            raise ValueError("kind 'reasoning_gym' needs size")
        return self


class EvalSet(PromptSource):
    """A held-out prompt set: never reaches training data (decontaminated against it)."""

    name: str

    @model_validator(mode="after")
    def _slug(self):
        check_slug(self.name, "eval set name")
        return self


class PromptsConfig(Strict):
    sources: list[PromptSource] = Field(min_length=1)
    eval_sets: list[EvalSet] = Field(default_factory=list)
    dedup: bool = True
    decontaminate_ngram: int = Field(13, gt=0, description="n-gram size for overlap against eval sets")
    template_ngram_share: float | None = Field(
        0.5, gt=0, le=1, description="n-grams in more than this share of an eval set's prompts are its template "
        "(shared instructions), not overlap; null counts every n-gram")

    @model_validator(mode="after")
    def _unique_eval_names(self):
        names = [e.name for e in self.eval_sets]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"eval set names must be unique (repeated: {', '.join(sorted(dup))})")
        return self


class SFTDataConfig(Strict):
    max_per_prompt: int = Field(4, gt=0)
    max_paragraph_chars: int = Field(4000, gt=0)
    drop_code_in_non_code: bool = True
    drop_mixed_language: bool = True


class PairsConfig(Strict):
    kinds: list[Literal["kimi", "flash"]] = Field(default_factory=lambda: ["kimi", "flash"], min_length=1)
    length_ratio: float = Field(1.5, gt=1.0, description="a correct sample this much longer than the shortest is 'rejected'")
    max_pairs_per_prompt: int = Field(4, gt=0)


class RLPoolConfig(Strict):
    min_pass_rate: float = Field(0.0, ge=0, le=1, description="keep prompts with pass rate > this")
    max_pass_rate: float = Field(1.0, ge=0, le=1, description="keep prompts with pass rate < this")
    order: Literal["curriculum", "failure_priority", "none"] = "curriculum"

    @model_validator(mode="after")
    def _window(self):
        if self.min_pass_rate >= self.max_pass_rate:
            raise ValueError(f"min_pass_rate {self.min_pass_rate} must be < max_pass_rate {self.max_pass_rate}")
        return self


class DatasetsConfig(Strict):
    sft: SFTDataConfig = Field(default_factory=SFTDataConfig)
    pairs: PairsConfig = Field(default_factory=PairsConfig)
    rl_pool: RLPoolConfig = Field(default_factory=RLPoolConfig)
