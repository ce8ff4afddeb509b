"""A small verified-sample set whose builder outputs are worked out by hand in the tests.

prompt pA (procedural): idx0 ok 100 tok, idx1 ok 40, idx2 wrong 30, idx3 ok 70, idx4 ok 50 but mixed language
prompt pB (math):       idx0 wrong 20, idx1 truncated 80, idx2 verdict true but format broken 60 -> no correct
prompt pC (math):       idx0 ok 10 with a ``` block, idx1 ok 12 with a 50-char paragraph, idx2 ok 11, idx3 unjudged 5
prompt pD (code):       idx0 ok 30 with a ``` block (fine for code), idx1 wrong 25
prompt pE:              an eval prompt's sample that must never reach a dataset
"""

from __future__ import annotations

import json
from pathlib import Path

TASKS = {"pA": "procedural:basic_arithmetic", "pB": "math", "pC": "math", "pD": "code"}


def sample(pid, idx, ntok, correct, *, reasoning="step one\n\nstep two", answer="42", lang_ok=True,
           format_ok=True, truncated=False):
    return {"prompt_id": pid, "prompt": f"question {pid}", "sample_idx": idx,
            "completion": f"<think>{reasoning}</think>{answer}", "reasoning": reasoning, "answer": answer,
            "finish_reason": "length" if truncated else "stop", "completion_tokens": ntok, "truncated": truncated,
            "teacher": "tiny-teacher", "gen_params_hash": "h",
            "verdict": {"correct": correct, "reason": "", "verifier": "test"},
            "format_ok": format_ok, "lang_ok": lang_ok}


SAMPLES = [
    sample("pA", 0, 100, True), sample("pA", 1, 40, True), sample("pA", 2, 30, False),
    sample("pA", 3, 70, True), sample("pA", 4, 50, True, lang_ok=False),
    sample("pB", 0, 20, False), sample("pB", 1, 80, False, truncated=True, reasoning="cut off", answer=""),
    sample("pB", 2, 60, True, format_ok=False),
    sample("pC", 0, 10, True, answer="```python\nprint(42)\n```"), sample("pC", 1, 12, True, reasoning="x" * 50),
    sample("pC", 2, 11, True), sample("pC", 3, 5, None),
    sample("pD", 0, 30, True, answer="```python\nprint(input())\n```"), sample("pD", 1, 25, False),
    sample("pE", 0, 10, True),
]


def prompt_rows():
    return [{"prompt_id": pid, "source": "s", "prompt": f"question {pid}", "gold": "42", "task": task,
             "split": "train", "metadata": {"k": pid}} for pid, task in TASKS.items()]


def write_stage_inputs(root: Path) -> tuple[Path, Path]:
    """A prompts folder and a verified folder with two shards (pA, pB | pC, pD, pE)."""
    prompts, verified = root / "prompts", root / "verified"
    (verified / "samples").mkdir(parents=True)
    prompts.mkdir()
    (prompts / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in prompt_rows()))
    cut = 8
    for i, rows in enumerate([SAMPLES[:cut], SAMPLES[cut:]]):
        path = verified / "samples" / f"shard-{i:05d}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return prompts, verified
