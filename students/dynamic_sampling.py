"""Dynamic sampling for TRL's GRPOTrainer: prompt groups whose rewards are all equal carry no signal; drop them.

DAPO (Yu et al. 2025) and DLER (NVIDIA 2025) filter out groups whose completions all got the same reward
(all right or all wrong): their group-normalised advantage is zero, yet under a token-mean loss (`dapo`)
their tokens still count in the denominator and dilute the informative groups' gradient — more so as
length RL makes more groups all-correct. DAPO then samples more prompts to refill the batch; TRL 1.16 has
no hook for either. The smallest hook: after TRL scored a generation batch, take those groups out of the
loss mask (and so out of `num_items_in_batch`, the token-mean normaliser), exactly as TRL's own
`mask_truncated_completions` takes truncated completions out. The batch is not refilled; the share dropped
is logged as `dynamic_sampling/dropped_groups`.
"""

from __future__ import annotations

import torch
from trl import GRPOTrainer

EQUAL = 1e-6  # rewards closer than this count as equal (sums of float weights)


def informative(rewards: torch.Tensor, num_generations: int) -> torch.Tensor:
    """Per completion: True when its group's total rewards are not all equal (NaN = unscorable, ignored)."""
    grouped = rewards.view(-1, num_generations)
    filled = torch.nan_to_num(grouped, nan=0.0)
    hi = torch.where(torch.isnan(grouped), torch.full_like(grouped, -torch.inf), filled).amax(dim=1)
    lo = torch.where(torch.isnan(grouped), torch.full_like(grouped, torch.inf), filled).amin(dim=1)
    keep = (hi - lo) > EQUAL
    return keep.repeat_interleave(num_generations)


def drop_equal_groups(output: dict, keep_local: torch.Tensor, gather=lambda t: t) -> dict:
    """Zero the loss mask of the completions of uninformative groups and recount the token-mean normaliser."""
    keep = keep_local.to(output["completion_mask"].device).unsqueeze(1).int()
    output["completion_mask"] = output["completion_mask"] * keep
    if output.get("tool_mask") is not None:
        output["tool_mask"] = output["tool_mask"] * keep
    loss_mask = output["completion_mask"] if output.get("tool_mask") is None else \
        output["completion_mask"] * output["tool_mask"]
    output["num_items_in_batch"] = gather(loss_mask.sum()).sum()
    return output


class DynamicSamplingGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose all-equal-reward groups contribute nothing to the loss."""

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards_per_func = rewards_per_func  # gathered over processes, like TRL's normalisation
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        groups = self.num_generations if mode == "train" else self.num_generations_eval
        per_func = self._last_rewards_per_func
        unscorable = torch.isnan(per_func).all(dim=1)
        total = (per_func * self.reward_weights.to(per_func.device).unsqueeze(0)).nansum(dim=1)
        total[unscorable] = torch.nan
        keep = informative(total, groups)
        n = output["completion_mask"].shape[0]
        start = self.accelerator.process_index * n
        self._metrics[mode]["dynamic_sampling/dropped_groups"].append(1.0 - keep.float().mean().item())
        return drop_equal_groups(output, keep[start:start + n], self.accelerator.gather)
