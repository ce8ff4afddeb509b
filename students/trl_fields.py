"""The field names of TRL's config classes, snapshotted so `factory validate` need not import TRL (+ torch).

Importing TRL costs 10–25 s on a loaded 2-core machine; `factory validate` took ~1.4 s before the `trl:`
pass-through. `trl_fields.json` holds `dataclasses.fields` of every TRL config class (trl.* and
trl.experimental.*) for the pinned TRL / transformers versions; when the installed versions differ, the
live classes are read instead. tests/students/test_trl_fields.py checks the snapshot against the live
classes. Regenerate after a TRL upgrade:

    python -m students.trl_fields
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pkgutil
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parent / "trl_fields.json"


def live(target: str) -> frozenset[str]:
    """Field names of `module:Class`, importing it."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    module, name = target.split(":")
    return frozenset(f.name for f in dataclasses.fields(getattr(importlib.import_module(module), name)))


@lru_cache(maxsize=1)
def _snapshot() -> dict | None:
    if not SNAPSHOT.exists():
        return None
    data = json.loads(SNAPSHOT.read_text())
    if (data.get("trl"), data.get("transformers")) != (version("trl"), version("transformers")):
        return None
    return data


@lru_cache(maxsize=None)
def fields(target: str) -> frozenset[str]:
    """Field names of a TRL config class (`trl:SFTConfig`), from the snapshot when it matches the install."""
    data = _snapshot()
    if data is not None and target in data["classes"]:
        return frozenset(data["base"]) | frozenset(data["classes"][target])
    return live(target)


def _config_classes() -> dict[str, type]:
    """Every dataclass named *Config in trl and trl.experimental.* that extends TrainingArguments."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    import trl
    import trl.experimental
    from transformers import TrainingArguments

    found = {}
    modules = [("trl", trl)]
    for info in pkgutil.iter_modules(trl.experimental.__path__, "trl.experimental."):
        try:
            modules.append((info.name, importlib.import_module(info.name)))
        except Exception:  # an experimental package whose optional dependency is absent
            continue
    for path, module in modules:
        for name in dir(module):
            cls = getattr(module, name, None)
            if name.endswith("Config") and not name.startswith("_") and isinstance(cls, type) and dataclasses.is_dataclass(cls) \
                    and issubclass(cls, TrainingArguments):
                found[f"{path}:{name}"] = cls
    return found


def main() -> None:
    from transformers import TrainingArguments

    base = sorted(f.name for f in dataclasses.fields(TrainingArguments))
    classes = {target: sorted({f.name for f in dataclasses.fields(cls)} - set(base))
               for target, cls in sorted(_config_classes().items())}
    SNAPSHOT.write_text(json.dumps({"trl": version("trl"), "transformers": version("transformers"), "base": base,
                                    "classes": classes}, indent=0) + "\n")
    print(f"{SNAPSHOT}: {len(classes)} classes")


if __name__ == "__main__":
    main()
