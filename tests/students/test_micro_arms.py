"""The frontier arms of recipes/micro.yaml (DLER GRPO, on-policy distillation) are wired as documented: the
on-policy arm is scored by the `short` student (not the overthinking teacher), the DLER values reach GRPOConfig, and both have estimates."""

from __future__ import annotations

from tests.conftest import REPO


def test_micro_frontier_arms_validate_and_plan(tmp_path):
    from factory.estimate import estimate
    from factory.graph import build_graph
    from factory.recipe import load_recipe
    from students import grpo

    recipe = load_recipe(REPO / "recipes" / "micro.yaml")
    stages = {s.name: s for s in build_graph(recipe)}
    assert stages["student.on-policy"].kind == "distill" and stages["student.on-policy"].inputs["teacher"] == "student.short"
    assert "eval.on-policy" in stages and "eval.grpo-dler" in stages
    for name in ("student.rl-only", "student.on-policy"):  # raw prompts: no wait for the teacher's samples
        assert stages[name].inputs.get("prompts") == "prompts" and "data" not in stages[name].inputs
    dler = next(j for j in recipe.students if j.name == "grpo-dler")
    args = grpo.grpo_config(dler, tmp_path)
    assert (args.scale_rewards, args.epsilon_high, args.loss_type) == ("batch", 0.28, "dapo") and dler.drops_equal_groups
    rows = {r.stage: r for r in estimate(recipe)}  # a new kind has its own estimate (no DPO fall-through)
    assert 0 < rows["student.on-policy"].tokens <= 150000 and rows["student.grpo-dler"].wall_hours > 0
