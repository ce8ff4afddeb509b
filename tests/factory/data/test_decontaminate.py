"""Dedup and decontamination rules: exact after normalization, word 13-grams, eval-set templates."""

from __future__ import annotations

from factory.data.decontaminate import Decontaminator, Deduplicator, normalize, word_ngrams

EVAL = "In triangle ABC the sides AB and AC are equal and the angle at A measures forty degrees exactly; find angle B."


def test_exact_match_ignores_case_and_whitespace():
    d = Decontaminator(13)
    d.add_eval_set(["What is  2 + 2?"])
    assert d.check("what is 2 + 2?\n") == "exact"
    assert d.check("What is 2 + 3?") is None


def test_thirteen_gram_overlap_and_twelve_words_do_not_count():
    d = Decontaminator(13)
    d.add_eval_set([EVAL])
    words = EVAL.split()
    assert d.check("Warm-up. " + " ".join(words[2:15]) + " and more.") == "ngram"  # 13 shared words
    assert d.check("Warm-up. " + " ".join(words[2:14]) + " and more.") is None  # only 12
    assert d.check("In triangle ABC the sides AB and AC are equal") is None  # shorter than 13 words


def test_shared_template_of_an_eval_set_is_not_overlap():
    template = "Solve the following problem carefully and put the final answer in a box at the very end please:"
    evals = [f"{template} compute {i} times {i + 1}." for i in range(20)]
    strict, lenient = Decontaminator(13, template_ngram_share=None), Decontaminator(13, template_ngram_share=0.5)
    strict.add_eval_set(evals)
    lenient.add_eval_set(evals)
    train = f"{template} compute 77 plus 100."
    assert strict.check(train) == "ngram"
    assert lenient.check(train) is None
    assert lenient.check(evals[3]) == "exact"


def test_dedup_and_helpers():
    dedup = Deduplicator()
    assert [dedup.seen(p) for p in ["A b", "a  B", "a c"]] == [False, True, False]
    assert normalize("  Hello\n World ") == "hello world"
    assert len(word_ngrams("one two three four", 3)) == 2 and word_ngrams("one two", 3) == set()
