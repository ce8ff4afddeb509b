"""On-policy distillation (`kind: distill`, TRL DistillationTrainer): a tiny student trains against a tiny teacher
with the same tokenizer; a student with another tokenizer stops with one clear line."""

from __future__ import annotations

import pytest

from students import distill, kinds


def _job(**kw) -> dict:
    return {"name": "opd", "kind": "distill", "init": {"student": "base"}, "max_steps": 3,
            "per_device_train_batch_size": 4, "max_completion_length": 8, "learning_rate": 1e-3} | kw


@pytest.fixture(scope="module")
def teacher_dir(tiny_model_dir, tmp_path_factory):
    """A teacher with the student's tokenizer but other weights (seed 1)."""
    from transformers import AutoTokenizer

    from students.tiny import build_model, save_pretrained

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    return save_pretrained(build_model(tok, seed=1), tok, tmp_path_factory.mktemp("teacher") / "model").parent


def test_distill_trains_the_student_on_the_teachers_logits(make_ctx, init_dir, data_dir, teacher_dir):
    import json

    ctx = make_ctx(_job(trl={"beta": 0.5}), {"init": init_dir, "data": data_dir, "teacher": teacher_dir})
    summary = kinds.module("distill").run(ctx)
    assert summary["steps"] == 3 and summary["beta"] == 0.5 and summary["prompts"] == 4
    log = json.loads((ctx.out / "train_log.json").read_text())["log_history"]
    assert [h["loss"] for h in log if "loss" in h], "the generalized-JSD loss was logged each step"
    assert (ctx.out / "model" / "model.safetensors").exists()


def test_student_with_another_tokenizer_is_refused(tiny_tokenizer):
    from students.tiny import build_tokenizer

    other = build_tokenizer(["a completely different corpus " * 50], vocab_size=300)
    with pytest.raises(ValueError, match="on-policy distillation needs the teacher's tokenizer, but the "
                                         "vocabularies differ"):
        distill.check_same_tokenizer(other, tiny_tokenizer, "opd")
    distill.check_same_tokenizer(tiny_tokenizer, tiny_tokenizer, "opd")  # same vocabulary: fine


def test_distill_wires_the_teacher_stage(write_recipe):
    from factory.graph import build_graph
    from factory.recipe import load_recipe
    from tests.conftest import minimal_recipe

    data = minimal_recipe()
    data["students"].append({"name": "opd", "kind": "distill", "init": {"student": "long"}})
    stages = {s.name: s for s in build_graph(load_recipe(write_recipe(data)))}
    assert stages["student.opd"].inputs["init"] == "student.long"
    assert stages["student.opd"].inputs["data"] == "datasets"


def test_a_student_can_be_the_teacher_that_scores_the_tokens(write_recipe):
    """`teacher: short`: the short student's weights score the tokens, and the stage waits for that student."""
    from factory.graph import build_graph
    from factory.recipe import load_recipe
    from tests.conftest import minimal_recipe

    data = minimal_recipe()
    data["students"].append({"name": "opd", "kind": "distill", "init": {"student": "long"}, "teacher": "long"})
    stages = build_graph(load_recipe(write_recipe(data)))
    order = [s.name for s in stages]
    opd = next(s for s in stages if s.name == "student.opd")
    assert opd.inputs["teacher"] == "student.long" and order.index("student.long") < order.index("student.opd")
    from eval.report import lineage_text

    lineage = next(s for s in stages if s.name == "report").config["lineage"]
    assert "scored by student long" in lineage_text("opd", "opd", lineage, "the teacher")
    assert "teacher" not in lineage["long"]  # other jobs' lineage is unchanged


def test_an_unknown_teacher_student_is_refused_by_name(write_recipe):
    from factory.recipe import load_recipe
    from tests.conftest import minimal_recipe

    data = minimal_recipe()
    data["students"].append({"name": "opd", "kind": "distill", "init": {"student": "long"}, "teacher": "shorty"})
    with pytest.raises(Exception, match="opd: input student 'shorty' does not exist"):
        load_recipe(write_recipe(data))
