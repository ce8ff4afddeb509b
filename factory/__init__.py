"""The distillation and long2short model factory: recipe schema, stage graph, cache and CLI.

`factory/` orchestrates; model code lives in `teachers/`, `students/` and `eval/`.
"""

__version__ = "0.1.0"
