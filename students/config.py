"""Recipe section `students`: a list of jobs, one pydantic class per kind, each in its own module.

The union is built from the kind registry (students/kinds.py): adding a kind is a module there and one
line in its list; nothing here changes.

Where a job's field lives (the rule):
- Top level: the factory's own concepts — `name`, `kind`, `init`, `data`, `rewards` (and their parameters:
  `length_warmup_steps`, `target_length`, `token_limit`), `launch` / `num_processes`, `token_budget`,
  `pair_kinds`, `r1_zero`, `preset`, `dynamic_sampling`, model-config overrides (`rope_theta`,
  `max_position_embeddings`), how the factory loads and splits the model at size (`attn_implementation`:
  the factory calls from_pretrained itself, students/loading.py; `sequence_parallel_size`: becomes
  TrainingArguments' `parallelism_config` object and enters the memory estimate) — plus the trainer fields the factory reads itself to plan and check a run
  (the estimate, the group-size check, a tiny init's seed), under TRL's names: `learning_rate`,
  `per_device_train_batch_size`, `gradient_accumulation_steps`, `max_steps`, `num_train_epochs`, `seed`,
  `max_length`, `num_generations`, `max_completion_length`.
- `trl:` everything else the kind's TRL config class has (SFTConfig, DPOConfig, CPOConfig for SimPO,
  ORPOConfig, GRPOConfig, DistillationConfig), under TRL's names: `weight_decay`, `beta`, `loss_type`,
  `scale_rewards`, `warmup_steps`, `lr_scheduler_type`, `packing`, `bf16`, ... `factory validate` checks the
  keys against the class's dataclass fields (unknown key: one line with the closest valid name, exit 2);
  a key set at top level or managed by the factory (output dir, checkpoints, `report_to`: see the recipe's
  `tracking:`) is refused. The block is part of the stage hash. Factory defaults that differ from TRL's are
  listed in students/common.py (FACTORY_DEFAULTS) and in each kind module (DEFAULTS / TRL_DEFAULTS).
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from students import kinds
from students.dpo import DPOJob
from students.grpo import GRPOJob, Reward
from students.job_base import Job, ModelRef, TrainJob
from students.merge import MergeJob
from students.sft import SFTJob

StudentJob = Annotated[Union[tuple(kinds.job_models())], Field(discriminator="kind")]

__all__ = ["DPOJob", "GRPOJob", "Job", "MergeJob", "ModelRef", "Reward", "SFTJob", "StudentJob", "TrainJob"]
