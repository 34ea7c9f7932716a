"""The account review: an event that starts a run without an email, and the account summary it produces.

AccountReviewRequest ─▶ account_summary ─▶ AccountSummary (and one internal note on the account)
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas._common import Email, RecordId
from schemas._pipeline import AppliedWrite

_Frozen = ConfigDict(frozen=True, extra="forbid")


class AccountReviewRequest(BaseModel):
    """Someone asks for a summary of one of the tenant's accounts (the tenant is the run's, never a field)."""

    model_config = _Frozen

    account_id: RecordId
    reason: Annotated[str, Field(max_length=500)] | None = None
    """Why the review is asked for (a renewal, a complaint); it goes into the note."""
    requested_by: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    """Who asked (a person's address or a system's name); it goes into the note."""
    contacts: Annotated[list[Email], Field(max_length=20)] = Field(default_factory=list)
    """The account's contacts whose tickets the summary counts (the CRM cannot list an account's contacts);
    an address that belongs to another account is left out."""


class AccountSummary(BaseModel):
    """What the account summary found, the rule's flags (each a reason a person should look), and its note."""

    model_config = _Frozen

    account_id: str
    found: bool
    name: str | None = None
    status: str | None = None
    interactions: int = 0
    tickets: int = 0
    open_tickets: list[str] = Field(default_factory=list)
    """`T-1: subject (P2, open)` for each ticket not solved or closed."""
    recent_topics: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    flagged: bool = False
    left_out: list[str] = Field(default_factory=list)
    """Contacts given in the request that are not on this account."""
    text: str = ""
    """The note as written."""
    written: AppliedWrite | None = None
    """The note's write (None when nothing was written: the account was not found)."""
