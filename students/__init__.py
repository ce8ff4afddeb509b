"""Students: SFT, DPO/SimPO, merge and GRPO jobs as thin layers over TRL and mergekit."""
