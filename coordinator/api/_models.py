"""The API's requests and responses as pydantic models: they validate what comes in, shape what goes out, and
are what the OpenAPI document is generated from.

The run views (`coordinator.views`) are plain dicts shared with the CLI and the console; the models of their
parts allow fields they do not declare yet, so a field the views gain reaches API clients before it is named here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from coordinator.workflow import EventName
from schemas import RunStatus, TenantId

# -- requests ---------------------------------------------------------------------------------------------


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoQuery(_Request):
    """An endpoint that takes no query parameters (any given is refused)."""


class NoBody(_Request):
    """An endpoint that takes no body."""


class RunsQuery(_Request):
    tenant: TenantId | None = None
    """Only this tenant's runs (a tenant-bound token sees its own only, whatever this says)."""
    status: RunStatus | None = None
    since: Annotated[str, Field(max_length=40, examples=["2h", "7d", "2026-12-01"])] | None = None
    """Runs created since: a duration back from now (`30m`, `2h`, `7d`, `1w`) or an ISO date or time (UTC)."""
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Annotated[str, Field(max_length=200)] | None = None
    """`next_cursor` of the previous page: the next page starts after its last run."""


class ApprovalsQuery(_Request):
    tenant: TenantId | None = None
    status: Literal["pending", "approved", "rejected", "executed", "failed", "any"] = "pending"


class SubmitRequest(_Request):
    """An event for a tenant: an email (`{"sender" or "from", "subject", "body"}`) or an account review
    (`{"account_id", ...}`), as `deskhand submit` reads from a file."""

    kind: EventName = "email"
    event: dict[str, Any]
    workflow: Annotated[str, Field(max_length=64)] | None = None
    """The workflow the run goes through (default: the tenant's own for an email, else the one that starts from
    `kind`)."""
    source: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    """What started the run: one run per source (default: the message id, else the content)."""


class Decision(_Request):
    """A decision names the arguments' hash the approver was shown (the approval's `args_hash`): on any other
    hash, nothing happens."""

    hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


# -- responses: runs --------------------------------------------------------------------------------------


class _View(BaseModel):
    model_config = ConfigDict(extra="allow")


class Triage(_View):
    category: str | None = None
    confidence: float | None = None
    priority: str | None = None
    queue: str | None = None
    escalate: bool | None = None
    escalation_reasons: list[str] = []


class RunSummary(_View):
    id: str
    tenant: str
    status: str
    triage: Triage | None
    workflow: str | None
    created: str | None
    finished: str | None
    duration_s: float | None
    tokens: int
    cost_usd: float
    reason: str


class RunPage(BaseModel):
    runs: list[RunSummary]
    next_cursor: str | None
    """Give it as `cursor` for the next page; null on the last."""


class RunInfo(_View):
    id: str
    tenant: str
    status: str
    reason: str
    workflow: dict[str, Any] | None
    trace: str
    """The run's W3C `traceparent`: its root span, which every span of the run descends from."""
    trace_id: str
    """The run's 32-hex trace id, what a tracing backend finds its trace by (empty for a run stored without one)."""
    created: str | None
    finished: str | None
    duration_s: float | None


class HandoffStep(_View):
    id: str
    step: int
    specialist: str
    state: str
    attempt: int
    queued: str | None
    started: str | None
    """When its latest attempt started."""
    finished: str | None
    offset_s: float | None
    """Seconds from the run's start to this step's."""
    waited_s: float | None
    """Seconds it waited in the queue."""
    duration_s: float | None
    error: str


class Exchange(_View):
    step: int
    specialist: str
    kind: str
    name: str
    args_hash: str
    result: str
    """The result, cut short (the whole exchange is the store's, for replay)."""
    error: bool
    at: str | None
    offset_s: float | None
    """Seconds from the run's start to this call."""
    duration_s: float | None


class TimelineStep(HandoffStep):
    """A step of the run's timeline, with its model judgments and tool calls in the order they were made."""

    calls: list[Exchange]


class RunUsage(_View):
    tokens: int
    cost_usd: float
    tool_calls: int
    iterations: int


class Draft(_View):
    subject: str | None
    body: str | None


class RunApproval(_View):
    id: str
    tool: str
    status: str
    args_hash: str
    why: str


class AuditLine(_View):
    at: str | None
    actor: str
    specialist: str
    tool: str
    args_hash: str
    decision: str
    outcome: str


class RunDetail(_View):
    """Everything the store knows of one run, in the order it happened (`deskhand runs show`)."""

    run: RunInfo
    handoffs: list[HandoffStep]
    exchanges: list[Exchange]
    usage: RunUsage
    triage: Triage | None
    draft: Draft | None
    ticket: str | None
    approvals: list[RunApproval]
    audit: list[AuditLine]
    timeline: list[TimelineStep]
    """The steps in the order they started, each with its calls: the handoffs and exchanges above, nested."""


class Submitted(BaseModel):
    run: str
    new: bool
    """False when this event (its source) had a run already: that run is returned, nothing is started."""


# -- responses: approvals, usage, health --------------------------------------------------------------------


class Approval(BaseModel):
    """A call parked for a person, with the exact arguments it would be made with and their hash."""

    id: str
    status: str
    run: str
    tenant: str
    tool: str
    arguments: dict[str, Any]
    args_hash: str
    """The hash a decision names (SHA-256 of the canonical arguments, as the servers' audit records it)."""
    arguments_changed: bool
    """The stored arguments no longer have the proposed hash: approving will not make the call."""
    why: str
    expires: str | None
    result: dict[str, Any]


class ApprovalList(BaseModel):
    approvals: list[Approval]


class Usage(BaseModel):
    tenant: str
    runs: dict[str, int]
    """How many of the tenant's runs are in each status."""
    in_flight: int
    tokens_today: int
    cost_today_usd: float
    daily_limit_usd: float
    """The tenant's daily spend limit (its file's `policy.limits.daily_spend_usd`, else the default)."""
    remaining_today_usd: float


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    schema_version: int
