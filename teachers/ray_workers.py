"""Scale-out on Ray: N generate workers as Ray tasks, with Ray's own retries, over the shard claims.

    generation:
      ray: {workers: 8, num_gpus_per_worker: 1, address: auto, max_retries: 3}

Each Ray task is one generate worker (`generate_shards(ctx, i, N)`): it starts one engine and claims
shards until none is left, so an engine start is paid once per worker, not per shard. Ray places the
tasks on the cluster's GPUs (`num_gpus_per_worker`, e.g. the teacher's tensor_parallel_size) and, when
a task's worker process or node dies, runs it again (`max_retries`, Ray's task retries for system
failures). The retried task resumes like any worker: the dead one's shard lease is taken over (at once
on the same host, after `teacher.lease_ttl_s` elsewhere), its partial file continued, so no key is lost
or written twice. All tasks write into the stage's work folder, which must be on a filesystem every
node sees (NFS, Lustre, ...). `address: null` starts a local Ray instance sized by `num_cpus`.
"""

from __future__ import annotations

from pathlib import Path

from factory.stages import StageContext


def _worker(work, config: dict, inputs: dict, out: str, index: int, workers: int, manifests: dict) -> dict:
    ctx = StageContext("generate", "generate", config, {k: Path(v) for k, v in inputs.items()}, Path(out), None,
                       manifests)
    return work(ctx, worker_index=index, num_workers=workers)


def run_on_ray(ctx, ray_cfg, work) -> list[dict]:
    """Run `ray_cfg.workers` generate workers as Ray tasks and wait for all of them. `work(ctx, worker_index,
    num_workers)` is what each runs (teachers.generate.generate_shards, passed in: this module never imports
    generate, which imports it; Ray ships the function by reference)."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=ray_cfg.address, num_cpus=ray_cfg.num_cpus, include_dashboard=False,
                 log_to_driver=False)
    try:
        task = ray.remote(_worker).options(num_cpus=ray_cfg.num_cpus_per_worker,
                                           num_gpus=ray_cfg.num_gpus_per_worker,
                                           max_retries=ray_cfg.max_retries, retry_exceptions=False)
        inputs = {k: str(v) for k, v in ctx.inputs.items()}
        refs = [task.remote(work, ctx.config, inputs, str(ctx.out), i, ray_cfg.workers, dict(ctx.manifests or {}))
                for i in range(ray_cfg.workers)]
        return ray.get(refs)
    finally:
        if started_here:
            ray.shutdown()
