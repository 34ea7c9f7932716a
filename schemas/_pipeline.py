"""The typed messages that cross between the built-in specialists (the payloads of handoffs).

    InboundEmail ─▶ triage ─▶ TriageResult ─▶ drafting ─▶ DraftReply
                                   │                         │
                                   └────────▶ compliance ◀───┘ ─▶ ComplianceVerdict
                                                                        │
                                                 crm_writer ◀───────────┘ ─▶ WriteReport

Every decision carries its reasons (what matched, which rule, which article), so a person
reading a run can see why. Natural-language text crosses only inside typed fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from schemas._common import Email, Plan, Priority

_Frozen = ConfigDict(frozen=True, extra="forbid")


def _storable(text: str) -> str:
    """The text without what no store or tool accepts: NUL characters are dropped, lone surrogates become
    U+FFFD. An email that carries them still gets its run, its ticket and its reply."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


StorableText = Annotated[str, AfterValidator(_storable)]


class InboundEmail(BaseModel):
    model_config = _Frozen

    message_id: str | None = None
    """The mailbox message id, when the email came from the mailbox server."""
    sender: Email
    subject: Annotated[StorableText, Field(max_length=300)]
    body: Annotated[StorableText, Field(max_length=50_000)]


class CustomerContext(BaseModel):
    model_config = _Frozen

    customer_id: str
    name: str
    account_id: str
    plan: Plan
    account_status: str
    recent_interactions: list[str] = Field(default_factory=list)
    open_tickets: list[str] = Field(default_factory=list)


class Classification(BaseModel):
    """The model's judgment of an email: which category, and how sure."""

    model_config = _Frozen

    category: str
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    matched_terms: list[str] = Field(default_factory=list)
    """The words or phrases that drove the choice."""
    injection_signals: list[str] = Field(default_factory=list)
    """Text in the email that tries to instruct the system or obtain what it must not give."""
    rationale: str = ""


class TriageResult(BaseModel):
    model_config = _Frozen

    email: InboundEmail
    customer: CustomerContext | None
    classification: Classification
    queue: str
    priority: Priority
    priority_rule: str
    """Which rule set the priority (e.g. `priorities[0]: when_any 'outage'`)."""
    escalate: bool
    escalation_reasons: list[str] = Field(default_factory=list)


class ArticleRef(BaseModel):
    model_config = _Frozen

    id: str
    title: str
    score: float


class DraftReply(BaseModel):
    model_config = _Frozen

    subject: str
    body: str
    template: str
    """The template used: the category's own, or `default`."""
    articles: list[ArticleRef] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)


class DraftingInput(BaseModel):
    model_config = _Frozen

    triage: TriageResult
    revision: int = 0
    feedback: list[str] = Field(default_factory=list)
    """What compliance asked to change, for a revision."""


class ProposedAction(BaseModel):
    """A write the pipeline intends to make, reviewed by compliance before crm_writer applies it."""

    model_config = _Frozen

    tool: str
    """`server.tool`, e.g. `helpdesk.route_ticket`."""
    arguments: dict[str, Any]
    reason: str


FindingRule = Literal[
    "forbidden_phrase",
    "card_number",
    "foreign_email",
    "injection",
    "other_customer_data",
    "credit_demand",
    "approval_required",
]


class Finding(BaseModel):
    model_config = _Frozen

    rule: FindingRule
    detail: str
    excerpt: str = ""
    where: Literal["draft", "email", "actions"] = "draft"


class ComplianceInput(BaseModel):
    model_config = _Frozen

    triage: TriageResult
    draft: DraftReply
    actions: list[ProposedAction] = Field(default_factory=list)
    revision: int = 0


Verdict = Literal["pass", "revise", "escalate", "needs_approval"]


class ComplianceVerdict(BaseModel):
    model_config = _Frozen

    verdict: Verdict
    findings: list[Finding] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    approval_actions: list[ProposedAction] = Field(default_factory=list)
    """The actions that need a person's approval (verdict `needs_approval`)."""


class WriterInput(BaseModel):
    model_config = _Frozen

    run_id: str
    triage: TriageResult
    draft: DraftReply | None
    verdict: ComplianceVerdict | None
    actions: list[ProposedAction] = Field(default_factory=list)


class AppliedWrite(BaseModel):
    model_config = _Frozen

    tool: str
    idempotency_key: str
    result_id: str | None
    outcome: Literal["applied", "skipped"] = "applied"
    reason: str = ""


class WriteReport(BaseModel):
    model_config = _Frozen

    ticket_id: str | None
    writes: list[AppliedWrite] = Field(default_factory=list)
