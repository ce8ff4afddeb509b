"""Shared pydantic base for every recipe section: unknown keys are errors, fields are documented."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Strict(BaseModel):
    """Base of every recipe model: extra keys are rejected so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=False, validate_default=True)


def check_slug(value: str, what: str) -> str:
    if not SLUG.match(value):
        raise ValueError(f"{what} must be lowercase letters, digits, '-' or '_' (got {value!r})")
    return value
