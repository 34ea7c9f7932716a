"""Field types shared by the tool contracts and the tenant file."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=254, pattern=EMAIL_PATTERN)]
"""An email address, compared case-insensitively (stored lower-case)."""

RECORD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
RecordId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=RECORD_ID_PATTERN)
]
"""A record's id within its tenant (`C-1`, `T-1042`, `KB-7`)."""

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
Slug = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=SLUG_PATTERN)]
"""A lower-case name a business chooses: a category, a queue, a plan, a role."""

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]

Priority = Literal["P1", "P2", "P3", "P4"]
ModelTier = Literal["small", "large"]
"""A model tier (the backend maps each to a model): `small` for judging, `large` for writing."""
Plan = Slug
"""A customer's plan: one of the names the tenant file declares (`policy.plans`)."""


def text_of(max_length: int) -> StringConstraints:
    """Free text of 1 to `max_length` characters, surrounding whitespace removed."""
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)
