"""Subprocess probe for test_loading.py: build a student trainer under the environment `accelerate launch
--config_file students/configs/zero3.yaml` gives one rank, with `from_pretrained` spied on, and print whether
ZeRO-3 was enabled when the weights were read.
Run: python tests/students/zero3_probe.py sft,dpo,simpo,orpo,grpo,distill <model dir> <port> <out dir>
(in a fresh process: it registers a DeepSpeed config and a process group, global state a test must not leak)."""

import json
import sys


class Loaded(Exception):
    """Raised by the spy: the weights would be read now; stop before any real loading."""


def accelerate_env(config_file: str) -> dict:
    """The environment accelerate's own launcher sets for one rank of this config (world size 1)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    args = launch_command_parser().parse_args(["--config_file", config_file, "--num_processes", "1",
                                               "--main_process_port", sys.argv[3], "x.py"])
    args, defaults, _ = _validate_launch_command(args)
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)  # as launch_command does
    _, env = prepare_deepspeed_cmd_env(args)
    return env


def main() -> None:
    import os

    kinds, model_dir = sys.argv[1].split(","), sys.argv[2]
    env = accelerate_env("students/configs/zero3.yaml")
    os.environ.update({k: v for k, v in env.items() if k.startswith("ACCELERATE_")})
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=sys.argv[3])
    from transformers import AutoModelForCausalLM
    from transformers.integrations import is_deepspeed_zero3_enabled

    seen, kind = {}, None

    def spy(*args, **kwargs):
        seen[kind] = {"zero3_at_load": is_deepspeed_zero3_enabled(), "attn_implementation":
                      kwargs.get("attn_implementation")}
        raise Loaded

    AutoModelForCausalLM.from_pretrained = spy
    from students import distill, dpo, grpo, orpo, sft, simpo

    base = dict(name="s", init={"path": model_dir}, launch="zero3", num_processes=1, max_steps=1)
    out = sys.argv[4]
    builders = {"sft": lambda: sft.build_trainer(sft.SFTJob(kind="sft", **base), model_dir, None, out),
                "dpo": lambda: dpo.build_trainer(dpo.DPOJob(kind="dpo", **base), model_dir, None, out),
                "simpo": lambda: simpo.build_trainer(simpo.SimPOJob(kind="simpo", **base), model_dir, None, out),
                "orpo": lambda: orpo.build_trainer(orpo.ORPOJob(kind="orpo", **base), model_dir, None, out),
                "grpo": lambda: grpo.build_trainer(grpo.GRPOJob(kind="grpo", per_device_train_batch_size=2,
                                                                num_generations=2, **base), model_dir, None, out),
                "distill": lambda: distill.build_trainer(distill.DistillJob(kind="distill", **base), model_dir,
                                                         model_dir, None, out)}
    for kind in kinds:
        try:
            builders[kind]()
        except Loaded:
            pass
    print("PROBE " + json.dumps(seen))


if __name__ == "__main__":
    main()
