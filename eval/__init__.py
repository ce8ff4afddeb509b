"""Evaluation: verifiers for teacher samples, lm-eval runs of students, gates, leaderboard and model cards."""
