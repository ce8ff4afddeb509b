"""What one stage asks a cluster for: nodes, GPUs per node, CPUs, from its kind and the recipe.

    training (sft/dpo/grpo/...): num_processes GPUs, spread over ceil(num_processes / gpus_per_node) nodes
    generate: one vLLM engine, tensor_parallel_size x data_parallel_size GPUs (none for an HTTP teacher)
    eval, bootstrap, tiny: one GPU; verify: `verification.workers` CPUs; everything else: CPU only

GPUs are requested only when the recipe's `hardware:` names a GPU (factory/hardware.py); without it (the
micro recipe) every stage is a CPU job of `torch_threads` cores. The same numbers go to Slurm
(`--nodes`, `--gpus-per-node`, `--cpus-per-task`) and to Ray (`num_gpus`, `num_cpus`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from factory.graph import Stage

CPUS_PER_GPU = 8  # data loading, tokenization and the vLLM scheduler per GPU
GPU_KINDS_ONE = {"eval", "bootstrap", "tiny"}  # model stages that fit on one GPU


@dataclass(frozen=True)
class Resources:
    nodes: int = 1
    gpus_per_node: int = 0
    cpus: int = 1  # per node

    def describe(self) -> str:
        gpus = f", {self.gpus_per_node} GPU{'s' if self.gpus_per_node > 1 else ''}" if self.gpus_per_node else ""
        nodes = f"{self.nodes} nodes x " if self.nodes > 1 else ""
        return f"{nodes}{self.cpus} CPU{'s' if self.cpus > 1 else ''}{gpus}"


def stage_resources(recipe, stage: Stage) -> Resources:
    """The allocation `stage` needs on a cluster described by `recipe.hardware`."""
    threads = recipe.torch_threads or 1
    if stage.kind == "verify":
        return Resources(cpus=max(threads, stage.config["verification"].get("workers", 1)))
    hw = recipe.hardware
    if hw is None or hw.gpu == "cpu":
        return Resources(cpus=threads)
    per_node = hw.gpus_per_node
    job = stage.config.get("job")
    if isinstance(job, dict) and "num_processes" in job and stage.kind != "merge":
        gpus = job["num_processes"]
        nodes = math.ceil(gpus / per_node)
        on_each = min(gpus, per_node)
        return Resources(nodes=nodes, gpus_per_node=on_each, cpus=CPUS_PER_GPU * on_each)
    if stage.kind == "generate":
        teacher = stage.config["teacher"]
        if teacher.get("backend") == "openai":
            return Resources(cpus=max(threads, 2))
        gpus = min(teacher.get("tensor_parallel_size", 1) * teacher.get("data_parallel_size", 1), per_node)
        return Resources(gpus_per_node=gpus, cpus=CPUS_PER_GPU * gpus)
    if stage.kind == "eval" and stage.config["eval"].get("backend", "hf").startswith("local-"):
        return Resources(cpus=threads)  # scores an HTTP endpoint: no GPU of its own
    if stage.kind in GPU_KINDS_ONE:
        return Resources(gpus_per_node=1, cpus=CPUS_PER_GPU)
    return Resources(cpus=threads)
