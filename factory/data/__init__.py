"""Dataset building: prompt loading, decontamination and the SFT / shortest / pairs / RL-pool builders.

Named `factory.data` because a top-level `datasets_` package would shadow Hugging Face `datasets`.
"""
