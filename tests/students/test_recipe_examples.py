"""The optional arms commented out in recipes/micro.yaml (DLER GRPO, on-policy distillation) stay valid: this
test uncomments them, validates and plans the recipe, and checks the DLER values reach GRPOConfig."""

from __future__ import annotations

import re

from tests.conftest import REPO


def test_commented_micro_arms_validate_and_plan(tmp_path):
    from factory.graph import build_graph
    from factory.recipe import load_recipe
    from students import grpo

    text = (REPO / "recipes" / "micro.yaml").read_text()
    block = re.search(r"  # BEGIN optional arms\n(.*?)  # END optional arms\n", text, re.S).group(1)
    arms = "\n".join(line.replace("  # ", "  ", 1) for line in block.splitlines() if not line.startswith("  # #"))
    path = tmp_path / "micro.yaml"
    path.write_text(text.replace(block, arms + "\n"))
    recipe = load_recipe(path)
    stages = {s.name: s for s in build_graph(recipe)}
    assert stages["student.on-policy"].kind == "distill" and stages["student.on-policy"].inputs["teacher"] == "teacher"
    assert "eval.on-policy" in stages and "eval.grpo-dler" in stages
    dler = next(j for j in recipe.students if j.name == "grpo-dler")
    args = grpo.grpo_config(dler, tmp_path)
    assert (args.scale_rewards, args.epsilon_high, args.loss_type) == ("batch", 0.28, "dapo") and dler.drops_equal_groups
    from factory.estimate import estimate

    rows = {r.stage: r for r in estimate(recipe)}  # a new kind has its own estimate (no DPO fall-through)
    assert 0 < rows["student.on-policy"].tokens <= 150000 and rows["student.grpo-dler"].wall_hours > 0
