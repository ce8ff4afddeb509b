"""The base layer: atomic writes, content hashes, manifests, the recipe schema base, process lifetime,
the one `<think>` parser and safe YAML loading.

It imports nothing of the project (factory, teachers, students, eval), so every package may import it
and none of it can take part in an import cycle; tests/test_layers.py checks both.
"""
