"""The coordinator's tables. Every row carries its tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def _at(index: bool = False, nullable: bool = False) -> datetime:
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), index=index, nullable=nullable))
    return at


class RunRow(SQLModel, table=True):
    __tablename__ = "coord_run"
    __table_args__ = (
        UniqueConstraint("tenant", "source_key", name="uq_run_source"),
        # a tenant's runs in flight (counted at every intake) and its runs by status, oldest first
        Index("ix_coord_run_tenant_status", "tenant", "status", "created_at"),
        # a tenant's runs newest first, a page at a time (the API's and the console's lists)
        Index("ix_coord_run_tenant_created", "tenant", "created_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant: str = Field(max_length=64)
    source_key: str = Field(max_length=200)
    """What started the run (the mailbox message id, or a hash of a submitted email): one run each."""
    status: str = Field(index=True, max_length=24)
    event: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """What each specialist produced, by name (the partial result when a run escalates)."""
    reason: str = ""
    trace: str = Field(default="", max_length=60)
    tokens: int = 0
    cost_usd: float = 0.0
    tool_calls: int = 0
    iterations: int = 0
    created_at: datetime = _at(index=True)
    updated_at: datetime = _at()
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class HandoffRow(SQLModel, table=True):
    __tablename__ = "coord_handoff"
    __table_args__ = (
        Index("ix_handoff_claim", "state", "lease_expires"),  # claims whose lease expired, longest first
        Index("ix_handoff_queue", "state", "created_at"),  # pending ones, oldest first
        Index("ix_coord_handoff_run_step", "run_id", "step"),  # a run's handoffs in order (its timeline)
    )

    id: str = Field(primary_key=True, max_length=40)
    run_id: str = Field(max_length=40)
    tenant: str = Field(max_length=64)
    sender: str = Field(max_length=60)
    recipient: str = Field(max_length=60)
    state: str = Field(max_length=24)
    attempt: int = 1
    step: int = 1
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    budget: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    trace: str = Field(default="", max_length=60)
    lease_owner: str | None = Field(default=None, max_length=80)
    lease_expires: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    error: str = ""
    created_at: datetime = _at()
    takeovers: int = 0
    """Times another worker took the handoff over after its worker stopped renewing the lease."""
    outage_since: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    """When the handoff first found a server down; it waits for the server until the outage window is spent."""
    started_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    """When its latest attempt was claimed (the time before it is the time it waited in the queue)."""
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    """When its outcome was recorded."""


class ApprovalRow(SQLModel, table=True):
    __tablename__ = "coord_approval"
    __table_args__ = (
        Index("ix_coord_approval_status_created", "status", "created_at"),
        Index("ix_coord_approval_tenant_status", "tenant", "status", "created_at"),
        Index("ix_coord_approval_run", "run_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    run_id: str = Field(max_length=40)
    tenant: str = Field(max_length=64)
    tool: str = Field(max_length=120)
    arguments: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    args_hash: str = Field(max_length=64)
    reason: str = ""
    status: str = Field(default="pending", max_length=16)
    decided_by: str | None = Field(default=None, max_length=200)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _at()
    expires_at: datetime = _at()
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class UsageRow(SQLModel, table=True):
    """The usage ledger: one row per model call, for run and tenant budgets and reports."""

    __tablename__ = "coord_usage"
    # a tenant's spend today: its rows since midnight, not its whole history
    __table_args__ = (Index("ix_coord_usage_tenant_at", "tenant", "at"),)

    seq: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True, max_length=40)
    tenant: str = Field(max_length=64)
    specialist: str = Field(max_length=60)
    model: str = Field(max_length=80)
    input_tokens: int
    output_tokens: int
    cache_tokens: int
    cost_usd: float
    at: datetime = _at(index=True)


class AuditEntry(SQLModel, table=True):
    """The coordinator's append-only audit trail: who, tenant, run, specialist, tool, args hash, decision, outcome."""

    __tablename__ = "coord_audit"
    # a run's trail in the order things happened: entries reach the table in batches, from several processes
    __table_args__ = (Index("ix_coord_audit_run_at", "run_id", "at", "seq"),)

    seq: int | None = Field(default=None, primary_key=True)
    at: datetime = _at(index=True)
    tenant: str = Field(index=True, max_length=64)
    run_id: str = Field(max_length=40)
    actor: str = Field(max_length=200)
    specialist: str = Field(default="", max_length=60)
    tool: str = Field(default="", max_length=120)
    args_hash: str = Field(default="", max_length=64)
    decision: str = Field(max_length=40)
    outcome: str = ""


class ExchangeRow(SQLModel, table=True):
    """One model or tool exchange of a run, in order: what was asked and what came back (for replay)."""

    __tablename__ = "coord_exchange"

    seq: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True, max_length=40)
    step: int
    specialist: str = Field(max_length=60)
    kind: str = Field(max_length=8)
    """`model` or `tool`."""
    name: str = Field(max_length=120)
    request: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    response: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    error: bool = False
    at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    """When the call was made (None in a store older than the column)."""
    duration_ms: float | None = None
    """How long it took to answer."""


class ExchangeRecord(TypedDict):
    """An exchange as the runtime records it: the values of a `coord_exchange` row (a plain dict — building
    table models on the per-handoff path cost more than writing them)."""

    run_id: str
    step: int
    specialist: str
    kind: str
    name: str
    request: dict[str, Any]
    response: dict[str, Any]
    error: bool
    at: datetime
    duration_ms: float


class AuditRecord(TypedDict):
    """An audit entry as the runtime records it: the values of a `coord_audit` row."""

    at: datetime
    tenant: str
    run_id: str
    actor: str
    specialist: str
    tool: str
    args_hash: str
    decision: str
    outcome: str


class WorkflowRow(SQLModel, table=True):
    """A version of a workflow some run started on, as it was: the run finishes on it even after the file
    changes or the process restarts."""

    __tablename__ = "coord_workflow"

    version: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=64)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _at()


class SchemaVersion(SQLModel, table=True):
    __tablename__ = "coord_schema_version"

    version: int = Field(primary_key=True)
    applied_at: datetime = _at()
