"""Real model families (issue #14): each fixture's real chat template and special tokens on a tiny model.

Per family: the student's training text is the teacher's prompt plus the completion (and the family
template's own output wherever that template keeps the reasoning); the turn end is trained, is the eos
and is never the pad; nothing is resized; after a short SFT the saved folder stops under its own
generation_config, renders like the teacher for lm-eval, and works for a user.
"""

from __future__ import annotations

import json

import pytest

from tests.students.family_models import FAMILIES, build_base, completion, sft_rows

USER = [{"role": "user", "content": "What is 2 + 3?"}]
# R1-Distill's own template drops the reasoning of assistant turns; the student must still train on it.
DROPS_REASONING = {"r1-distill-qwen"}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models on a shared 2-core machine: 2 torch threads ran 20x slower than 1 (1.2 s vs 0.06 s a step)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    return {f: build_base(f, root / f) for f in FAMILIES}


def _teacher_prompt(base):
    from transformers import AutoTokenizer

    from teachers.conventions import render_prompt
    from teachers.families import detect_family

    raw = AutoTokenizer.from_pretrained(base)
    if raw.chat_template is None:  # a base without a template: the family's own instruct template
        from teachers.families import family_template

        raw.chat_template = family_template(raw, detect_family(raw))
    return raw, render_prompt(raw, {"prompt": USER[0]["content"]}, detect_family(raw))


@pytest.mark.parametrize("family", FAMILIES)
def test_training_text_is_the_teachers_prompt_plus_the_completion(bases, family):
    from students.common import load_tokenizer
    from teachers.families import detect_family, turn_facts

    raw, prompt = _teacher_prompt(bases[family])
    tok = load_tokenizer(str(bases[family]))
    messages = USER + [{"role": "assistant", "content": completion(2, 3)}]
    text = tok.apply_chat_template(messages, tokenize=False)
    facts = turn_facts(raw, raw.chat_template, detect_family(raw))
    after_prefill = completion(2, 3)[len(facts.prefill):] if facts.prefill else completion(2, 3)
    assert text == prompt + after_prefill + facts.turn_end + facts.suffix
    assert tok.apply_chat_template(USER, tokenize=False, add_generation_prompt=True) == prompt
    if family not in DROPS_REASONING:
        assert text == raw.apply_chat_template(messages, tokenize=False)  # the family template's own output
    assert "<|im_start|>" not in text or "<|im_start|>" in raw.get_vocab()  # never a foreign ChatML


@pytest.mark.parametrize("family", FAMILIES)
def test_turn_end_is_trained_is_eos_and_is_not_pad(bases, family):
    from transformers import AutoTokenizer

    from students.common import load_tokenizer

    tok = load_tokenizer(str(bases[family]))
    raw = AutoTokenizer.from_pretrained(bases[family])
    enc = tok.apply_chat_template(USER + [{"role": "assistant", "content": completion(2, 3)}],
                                  return_dict=True, return_assistant_tokens_mask=True)
    trained = [i for i, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]
    assert trained[-1] == tok.eos_token_id  # the span ends on the turn end, which is the eos
    assert tok.decode(trained).endswith("5" + tok.eos_token)
    assert tok.pad_token_id is not None and tok.pad_token_id != tok.eos_token_id
    assert len(tok) == len(raw)  # a reused token, no resize


class _Unknown:
    """A tokenizer of no known family (detection only looks at the vocab and the template)."""

    def __init__(self, template):
        self.chat_template = template

    def get_vocab(self):
        return {"<s>": 0, "</s>": 1, "a": 2}


def test_unknown_family_is_an_error_without_a_template_and_a_logged_generic_with_one(caplog):
    from teachers.families import detect_family

    with pytest.raises(ValueError, match="m: tokenizer has no chat template and matches no known family"):
        detect_family(_Unknown(None), source="m")
    with caplog.at_level("WARNING"):
        assert detect_family(_Unknown("{{ messages }}"), source="m").name == "generic"
    assert "matches no known family; using 'generic'" in caplog.text


# ---------------------------------------------------------------- short SFT per family
@pytest.fixture(scope="module")
def students(bases, tmp_path_factory):
    """One short SFT per family through the factory's own SFT path (students.sft + students.common)."""
    from datasets import Dataset

    from students import common, sft
    from students.config import SFTJob

    job = SFTJob(name="s", kind="sft", init={"path": "x"}, learning_rate=3e-3, per_device_train_batch_size=8, max_steps=60,
                 max_length=256, trl={"warmup_steps": 0, "save_steps": 1000})
    out = {}
    for family in FAMILIES:
        folder = tmp_path_factory.mktemp(f"sft-{family}")
        trainer, tok = sft.build_trainer(job, str(bases[family]), Dataset.from_list(sft_rows(24)), folder)
        common.train(trainer, folder)
        common.save_final(trainer, tok, folder)
        out[family] = folder / "model"
    return out


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_student_stops_under_its_own_generation_config(students, family):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from teachers.families import detect_family, stop_token_ids

    folder = students[family]
    tok = AutoTokenizer.from_pretrained(folder)  # as a user would
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    gen = json.loads((folder / "generation_config.json").read_text())
    eos = gen["eos_token_id"] if isinstance(gen["eos_token_id"], list) else [gen["eos_token_id"]]
    assert eos == stop_token_ids(tok, detect_family(tok))
    assert eos[0] == tok.convert_tokens_to_ids(tok.eos_token) != gen["pad_token_id"]
    limit = 40
    prompts = [f"What is {a} + {b}?" for a in range(1, 6) for b in range(1, 5)]
    tok.padding_side = "left"
    chats = [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
             for p in prompts]
    batch = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=limit, do_sample=False)  # its own generation_config
    new = out[:, batch["input_ids"].shape[1]:].tolist()
    stopped = sum(any(t in eos for t in row) for row in new)
    assert stopped / len(prompts) >= 0.95, [tok.decode(r) for r in new[:3]]


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_eval_renders_like_the_teacher_and_stops_on_the_turn_end(bases, students, family, tmp_path):
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from eval.lm_eval_runner import materialize_tasks, read_task_yaml
    from teachers.families import stop_strings

    _, teacher_prompt = _teacher_prompt(bases[family])
    tok = AutoTokenizer.from_pretrained(students[family])
    lm = HFLM(pretrained=AutoModelForCausalLM.from_pretrained(students[family]), tokenizer=tok, batch_size=1)
    assert lm.apply_chat_template(USER, add_generation_prompt=True) == teacher_prompt
    prompts = tmp_path / "eval"
    prompts.mkdir()
    (prompts / "heldout.jsonl").write_text(json.dumps({"prompt_id": "p", "prompt": "1 + 1?", "gold": "2",
                                                       "task": "procedural:basic_arithmetic"}) + "\n")
    cfg = {"temperature": 0.0, "top_p": 1.0, "max_gen_toks": 32, "k": 1}
    out = materialize_tasks(["heldout"], cfg, tmp_path / "tasks", stop_strings(tok), prompts)
    until = read_task_yaml(out / "heldout.yaml")["generation_kwargs"]["until"]
    assert tok.eos_token in until and set(stop_strings(tok)) <= set(until)
