"""Dataset cards are huggingface_hub DatasetCards: the Hub's parser reads their metadata and body back."""

from __future__ import annotations

from huggingface_hub import DatasetCard

from factory.data.cards import size_category, write_card


def test_dataset_card_parses_back_with_huggingface_hub(tmp_path):
    stats = write_card(tmp_path, name="shortest", rule="Shortest correct sample per prompt.", citation="Kimi k1.5",
                       teachers=["some-org/teacher"], rows=1234, drops={"incorrect": 7},
                       series={"chosen": [10, 20, 30]}, xlabel="completion tokens", columns=["messages"],
                       settings={"max_per_prompt": 1})
    card = DatasetCard.load(tmp_path / "README.md")
    assert card.data.pretty_name == "shortest" and card.data.size_categories == ["1K<n<10K"]
    assert card.data.task_categories == ["text-generation"] and "distillation" in card.data.tags
    assert "**Teacher:** some-org/teacher" in card.text and "| incorrect | 7 |" in card.text
    assert "max_per_prompt=1" in card.text and (tmp_path / "lengths.png").stat().st_size > 0
    assert stats["chosen"]["median"] == 20.0


def test_size_categories():
    assert [size_category(n) for n in (0, 999, 1000, 99_999, 2_000_000)] == ["n<1K", "n<1K", "1K<n<10K",
                                                                            "10K<n<100K", "n>1M"]
