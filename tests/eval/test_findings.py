"""The findings read the recipe's own structure (gates, lineage), not the micro recipe's student names, and
compute the Kimi goal from numbers, not from their formatted strings."""

from __future__ import annotations

from eval import findings

CONFIG = {
    "gates": [{"students": ["tiny-a"], "baseline": "teacher", "rules": []},
              {"students": ["terse", "blend"], "baseline": "verbose", "rules": []}],
    "produced": {"verbose": ["student.verbose"], "terse": ["student.terse"],
                 "blend": ["student.blend-w025", "student.blend-w075"], "tiny-a": ["student.tiny-a"]},
    "lineage": {"verbose": {"kind": "sft", "init": {"teacher": True}},
                "terse": {"kind": "sft", "init": {"teacher": True}},
                "tiny-a": {"kind": "distill", "init": {"bootstrap": {"steps": 10}}},
                "tiny-b": {"kind": "grpo", "init": {"bootstrap": {"steps": 10}}}},
}


def _m(acc: float, tokens: float) -> dict:
    return {"heldout": {"acc": acc, "acc_ci": [acc - 0.03, acc + 0.03], "tokens": tokens}}


def test_long2short_group_and_arms_come_from_gates_and_lineage():
    assert findings.long2short_group(CONFIG) == ("verbose", ["terse", "blend-w025", "blend-w075"])
    arms = findings.distill_vs_rl_arms(CONFIG)
    assert [a for a, _ in arms] == ["tiny-a", "tiny-b"] and "on-policy distillation" in arms[0][1]


def test_goal_uses_numbers_not_rounded_strings():
    results = {"verbose": _m(0.80, 200.0), "terse": _m(0.7896, 99.9), "blend-w025": _m(0.80, 150.0),
               "unrelated": _m(0.9, 10.0)}
    rows = findings.long2short_rows(results, {}, "heldout", "verbose", ["terse", "blend-w025", "blend-w075"])
    assert [r["label"] for r in rows] == ["blend-w025", "terse", "verbose"], "only the gated group and long"
    terse = next(r for r in rows if r["label"] == "terse")
    # −1.04 points prints as "-1.0": parsing the string back would call this within 1 point
    assert findings._long2short_cells(terse)[3] == "-1.0" and terse["delta"] < -0.01


def test_arms_from_the_micro_recipes_own_report_config():
    """The report's lineage dumps every init field (None where unset): only bootstrapped students are arms."""
    from pathlib import Path

    from factory.graph import build_graph
    from factory.recipe import load_recipe

    recipe = load_recipe(Path(__file__).parents[2] / "recipes" / "micro.yaml")
    report = next(s for s in build_graph(recipe) if s.name == "report")
    assert [a for a, _ in findings.distill_vs_rl_arms(report.config)] == ["distill", "rl-only", "on-policy"]


def test_goals_name_who_meets_them_and_fail_on_a_one_point_miss():
    config = {**CONFIG, "lineage": {**CONFIG["lineage"], "rl": {"kind": "grpo", "init": {"student": "verbose"}},
                                    "pref": {"kind": "dpo", "init": {"student": "verbose"}}}}
    kinds = findings.label_kinds(config)
    assert kinds["terse"] == "sft" and kinds["rl"] == "grpo"
    results = {"verbose": _m(0.80, 200.0), "terse": _m(0.80, 70.0), "rl": _m(0.7896, 100.0), "pref": _m(0.81, 180.0)}
    rows = findings.long2short_rows(results, {}, "heldout", "verbose", ["terse", "rl", "pref"])
    goals = {g: (v, ok) for g, v, ok in findings.long2short_goals(rows, "verbose", kinds)}
    assert goals[">= 60 % fewer tokens at <= 1 pt accuracy loss"] == ("terse", True)
    rl_goal = goals["length RL (GRPO) within 1 pt at >= 40 % fewer tokens"]
    assert rl_goal[1] is False and "rl -1.0 pts at 50.0 % fewer tokens" in rl_goal[0]  # -1.04 points is a miss
    assert goals["DPO within 1 pt at fewer tokens"] == ("pref", True)
    arms = [("tiny-a", "on-policy"), ("tiny-b", "grpo"), ("tiny-c", "sft")]
    kinds |= {"tiny-c": "sft"}
    results = {"base.tiny-a": _m(0.20, 190.0), "tiny-a": _m(0.21, 190.0), "tiny-b": _m(0.25, 100.0),
               "tiny-c": _m(0.24, 70.0)}
    r1 = {g: ok for g, _, ok in findings.distill_vs_rl_goals(results, "heldout", arms, kinds)}
    assert r1 == {"RL alone improves on its base": True, "distillation (SFT) beats RL alone": False,
                  "an on-policy distillation arm is measured": True}
