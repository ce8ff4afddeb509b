"""The eval `model_args:` pass-through, checked against the arguments lm-eval's model class really takes.

    eval:
      backend: vllm
      model_args: {kv_cache_dtype: fp8, enable_prefix_caching: true}

Keys go to the lm-eval model constructor (`get_model(backend)(**args)`); for `vllm` lm-eval hands every
extra keyword to `vllm.LLM`, i.e. to vLLM's `EngineArgs`, so those fields count too. The accepted names
are read from the installed sources with `ast`, without importing them: importing vLLM takes ~10 s and
needs the package installed, and `factory validate` must be quick and work on a laptop without vLLM
(then only lm-eval's own names are known and the rest is left to the run).
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
from functools import lru_cache
from pathlib import Path

# backend -> (lm-eval module, class), as registered by lm-eval 0.4.13 (`@register_model`).
LM_EVAL_CLASSES = {
    "hf": ("lm_eval.models.huggingface", "HFLM"),
    "vllm": ("lm_eval.models.vllm_causallms", "VLLM"),
    "local-completions": ("lm_eval.models.openai_completions", "LocalCompletionsAPI"),
    "local-chat-completions": ("lm_eval.models.openai_completions", "LocalChatCompletion"),
}
# Set by the factory from the model under test or other eval fields; a model_args entry may not replace them.
RESERVED = {"pretrained", "model", "tokenizer", "base_url"}


def _module_file(dotted: str) -> Path | None:
    """The source file of a module, found without importing it (nor its parent packages' heavy parts)."""
    top, *rest = dotted.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*rest)
    return path.with_suffix(".py") if path.with_suffix(".py").exists() else None


def _class_init_args(tree: ast.Module, name: str, seen: set[str]) -> tuple[set[str], list[str]]:
    """(argument names of `name.__init__` and its base classes in the same module, other base names)."""
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None)
    if cls is None or name in seen:
        return set(), []
    seen.add(name)
    names: set[str] = set()
    init = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is not None:
        a = init.args
        names |= {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs} - {"self"}
    outside = []
    for base in cls.bases:
        base_name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
        inner, more = _class_init_args(tree, base_name, seen)
        names |= inner
        outside += more if inner or more else [base_name]
    return names, outside


@lru_cache(maxsize=None)
def _file_tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _lm_eval_args(backend: str) -> set[str] | None:
    module, cls = LM_EVAL_CLASSES[backend]
    path = _module_file(module)
    if path is None:
        return None
    names, bases = _class_init_args(_file_tree(path), cls, set())
    if "TemplateAPI" in bases:  # the OpenAI-compatible classes build on lm_eval.models.api_models.TemplateAPI
        api = _module_file("lm_eval.models.api_models")
        if api is not None:
            names |= _class_init_args(_file_tree(api), "TemplateAPI", set())[0]
    return names


def _dataclass_fields(module: str, cls: str) -> set[str]:
    path = _module_file(module)
    if path is None:
        return set()
    node = next((n for n in _file_tree(path).body if isinstance(n, ast.ClassDef) and n.name == cls), None)
    return {s.target.id for s in (node.body if node else []) if isinstance(s, ast.AnnAssign)
            and isinstance(s.target, ast.Name)}


@lru_cache(maxsize=None)
def accepted_args(backend: str) -> frozenset[str] | None:
    """Names the backend's constructor takes (None: lm-eval not installed, nothing to check against)."""
    names = _lm_eval_args(backend)
    if names is None:
        return None
    if backend == "vllm":
        names |= _dataclass_fields("vllm.engine.arg_utils", "EngineArgs")  # LLM(**kwargs) -> EngineArgs
    return frozenset(names)


def check_model_args(backend: str, model_args: dict) -> list[str]:
    """One problem per bad key: reserved, or unknown with the closest valid name."""
    problems = []
    known = accepted_args(backend)
    for key in model_args:
        if key in RESERVED:
            problems.append(f"eval.model_args.{key}: set by the factory (the model under test / eval fields)")
        elif known is not None and key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(f"eval.model_args.{key}: not an argument of lm-eval's '{backend}' model{hint}")
    return problems
