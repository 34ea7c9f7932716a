"""The envelope every message between the coordinator and a specialist travels in.

A `Handoff` is frozen: a hop never edits one, it makes the next with `model_copy`/`next_hop`.
Its `payload` is the recipient's input model as JSON, validated against that model at every hop.
States move only along `HANDOFF_TRANSITIONS`; anything else is refused.

    pending ─▶ claimed ─▶ done | failed | escalated | awaiting_approval
       ▲          │
       └──────────┘  (lease lost: the worker died; another claims it again, attempt + 1)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas._errors import Conflict
from schemas._tenancy import TenantId

HandoffState = Literal["pending", "claimed", "done", "failed", "escalated", "awaiting_approval"]
RunStatus = Literal["running", "completed", "escalated", "awaiting_approval", "failed"]

HANDOFF_TRANSITIONS: dict[HandoffState, frozenset[HandoffState]] = {
    "pending": frozenset({"claimed"}),
    "claimed": frozenset({"done", "failed", "escalated", "awaiting_approval", "pending"}),
    "awaiting_approval": frozenset({"done", "escalated"}),
    "done": frozenset(),
    "failed": frozenset(),
    "escalated": frozenset(),
}


class RunBudget(BaseModel):
    """What a whole run may spend (DESIGN §6); each handoff carries what is left."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tokens: int = Field(default=200_000, ge=0)
    cost_usd: float = Field(default=1.0, ge=0)
    tool_calls: int = Field(default=80, ge=0)
    iterations: int = Field(default=20, ge=0)
    wall_seconds: float = Field(default=300.0, ge=0)


class Handoff(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: f"H-{uuid.uuid4().hex[:16]}")
    run_id: str
    tenant: TenantId
    sender: str
    recipient: str
    state: HandoffState = "pending"
    attempt: int = Field(default=1, ge=1)
    step: int = Field(default=1, ge=1)
    """The hop's number within the run; part of every idempotency key made in it."""
    payload: dict[str, Any]
    budget: RunBudget = RunBudget()
    trace: str = ""
    """W3C traceparent of the run."""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def moved_to(self, state: HandoffState) -> Handoff:
        """This handoff in `state`; `Conflict` if the state machine does not allow that move."""
        if state not in HANDOFF_TRANSITIONS[self.state]:
            raise Conflict(f"handoff {self.id}: {self.state} → {state} is not a legal move", field="state")
        return self.model_copy(update={"state": state})

    def next_hop(self, recipient: str, payload: BaseModel, budget: RunBudget) -> Handoff:
        """The handoff that carries `payload` on to `recipient`."""
        return Handoff(
            run_id=self.run_id,
            tenant=self.tenant,
            sender=self.recipient,
            recipient=recipient,
            step=self.step + 1,
            payload=payload.model_dump(mode="json"),
            budget=budget,
            trace=self.trace,
        )
