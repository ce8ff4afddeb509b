"""The minimal recipe validates and every shipped recipe loads and plans offline."""

from pathlib import Path

import pytest

from factory.graph import build_graph
from factory.recipe import load_recipe
from tests.conftest import REPO, minimal_recipe


def test_minimal_recipe_validates(write_recipe):
    r = load_recipe(write_recipe(minimal_recipe()))
    names = [s.name for s in build_graph(r)]
    assert names[:4] == ["prompts", "generate", "verify", "datasets"]
    assert "student.long" in names and "eval.long" in names and names[-1] == "report"


@pytest.mark.parametrize("path", sorted((REPO / "recipes").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_recipes_validate_and_plan(path: Path):
    r = load_recipe(path)
    stages = build_graph(r)
    assert len({s.name for s in stages}) == len(stages)
    by_hash = {}
    for s in stages:  # equal hashes only for identical work (e.g. two students' identical tiny bases)
        twin = by_hash.setdefault(s.hash, s)
        assert (twin.kind, twin.config) == (s.kind, s.config), (twin.name, s.name)


def test_students_naming_the_same_pretrained_base_share_one_base_stage(write_recipe):
    """A bootstrap base costs minutes of training: identical ones are built once, different ones apart."""
    base = {"tasks": ["basic_arithmetic"], "steps": 5, "model": {"hidden_size": 64}}
    recipe = minimal_recipe()
    long_ = recipe["students"][0]
    recipe["students"] = [
        long_ | {"name": "distill", "init": {"bootstrap": base}},
        {"name": "rl-only", "kind": "grpo", "init": {"bootstrap": base}, "token_budget": 1000},
        long_ | {"name": "other", "init": {"bootstrap": base | {"steps": 6}}},
    ]
    stages = {s.name: s for s in build_graph(load_recipe(write_recipe(recipe)))}
    bases = sorted(n for n, s in stages.items() if s.kind == "bootstrap")
    assert bases == ["base.distill", "base.other"]
    assert stages["student.distill"].inputs["init"] == stages["student.rl-only"].inputs["init"] == "base.distill"
    assert stages["base.distill"].inputs == {"prompts": "prompts"}, "the base does not wait for the teacher"


def test_a_scratch_base_takes_the_bootstrapped_teachers_tokenizer():
    """The micro recipe's small base is built from scratch: it must share the teacher's vocabulary, or the
    on-policy distillation arm refuses it ('vocabularies differ')."""
    recipe = load_recipe(REPO / "recipes" / "micro.yaml")
    stages = {s.name: s for s in build_graph(recipe)}
    base = stages["base.distill"]
    assert base.config["tokenizer_of"] == stages["teacher"].config["teacher"]["bootstrap"]
    assert base.inputs == {"prompts": "prompts"}, "rebuilt from the teacher's config, not waiting for it"
