"""GPU groups and ports for stages that run at once (`factory run --jobs N` on a GPU node).

Without this two GPU stages started by the parallel scheduler (factory/scheduler.py) would both see every
GPU and both rendezvous on torch's default port 29500: the second `accelerate launch` fails to bind, or
two vLLM engines each take 90 % of the same devices. So each GPU stage gets a lease: a disjoint
`CUDA_VISIBLE_DEVICES` group of the size it asks for, and its own port block (`MASTER_PORT`, which
students/launch.py hands to `accelerate launch --main_process_port`, and `VLLM_PORT`). A stage whose
group is not free waits; a stage asking for more GPUs than the node has runs alone on all of them.

GPUs a stage asks for: a student job's `num_processes`; an eval with the vllm backend
`tensor_parallel_size × data_parallel_size` (else 1); a vLLM teacher's tp × dp (transformers: 1, an API:
0); bootstrap / tiny bases 1; merge, prompts, verify, datasets, report 0 (CPU). `FACTORY_GPUS=N` pretends
the node has N GPUs (tests, and a node whose GPUs are shared out by hand).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

BASE_PORT = 29500
PORT_STRIDE = 20  # ports per lease: MASTER_PORT = base, VLLM_PORT = base + 10 (vLLM counts up from it)


def visible_gpus() -> list[str]:
    """Device ids this runner may hand out ([] on a CPU machine)."""
    fake = os.environ.get("FACTORY_GPUS")
    if fake:
        return [str(i) for i in range(int(fake))]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip()]
    try:
        import torch

        count = torch.cuda.device_count()  # NVML: no CUDA context, so forking children stays safe
    except Exception:  # noqa: BLE001 - no torch / no driver: a CPU machine
        count = 0
    return [str(i) for i in range(count)]


def stage_gpus(stage) -> int:
    """GPUs one stage occupies (see the module docstring)."""
    cfg = stage.config
    if stage.kind == "merge":
        return 0
    if "job" in cfg:
        return int(cfg["job"].get("num_processes", 1))
    if stage.kind == "eval":
        e = cfg["eval"]
        return e.get("tensor_parallel_size", 1) * e.get("data_parallel_size", 1) if e["backend"] == "vllm" else (
            1 if e["backend"] == "hf" else 0)
    if stage.kind == "generate":
        t = cfg["teacher"]
        if t.get("backend") == "openai":
            return 0
        if t.get("backend") == "transformers" or t.get("bootstrap"):
            return 1
        return t.get("tensor_parallel_size", 1) * t.get("data_parallel_size", 1)
    return 1 if stage.kind in ("bootstrap", "tiny") else 0


@dataclass
class Lease:
    gpus: list[str]
    slot: int | None
    env: dict[str, str] = field(default_factory=dict)


class GpuPool:
    """Free GPUs and port slots of this node; `take` a lease for a stage, `give` it back when it ends."""

    def __init__(self, gpus: list[str]):
        self.total = len(gpus)
        self.free = list(gpus)
        self.slots = list(range(max(self.total, 1)))

    def need(self, stage) -> int:
        return min(stage_gpus(stage), self.total) if self.total else 0

    def fits(self, stage) -> bool:
        return len(self.free) >= self.need(stage)

    def take(self, stage) -> Lease:
        n = self.need(stage)
        if n == 0:
            return Lease([], None)
        if len(self.free) < n:
            raise RuntimeError(f"stage {stage.name}: {n} GPUs asked, {len(self.free)} free")
        ids, self.free = self.free[:n], self.free[n:]
        slot = self.slots.pop(0)
        port = BASE_PORT + PORT_STRIDE * slot
        return Lease(ids, slot, {"CUDA_VISIBLE_DEVICES": ",".join(ids), "MASTER_PORT": str(port),
                                 "VLLM_PORT": str(port + 10)})

    def give(self, lease: Lease) -> None:
        self.free.extend(lease.gpus)
        if lease.slot is not None:
            self.slots.append(lease.slot)
            self.slots.sort()
