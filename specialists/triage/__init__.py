"""The triage specialist (entry point `triage = specialists.triage:specialist`).

Finds the customer and their history over MCP, asks the model to classify (`triage.classify`;
offline: TF-IDF similarity to the policy's categories), adds the injection signals found in code
(hidden and disguised text included) to the model's, then applies the policy's priority and
escalation rules in code: an escalating category that reads nearly as close as the chosen one escalates too (or,
with the embeddings extra, one the email's meaning reads closest to whose words are not far behind),
and so does a follow-up that points to earlier mail without saying what is wrong. Scopes: crm:read, helpdesk:read.
"""

from specialists.triage._classify import CLASSIFY, ClassifyRequest, classify_offline
from specialists.triage._risk import coverage, risk_signals
from specialists.triage._rules import (
    escalating_keywords_said,
    escalation_reasons,
    priority_for,
    reread_for_risk,
    vague_follow_up,
)
from specialists.triage._specialist import TriageSpecialist, specialist

__all__ = [
    "CLASSIFY",
    "ClassifyRequest",
    "TriageSpecialist",
    "classify_offline",
    "coverage",
    "escalating_keywords_said",
    "escalation_reasons",
    "priority_for",
    "reread_for_risk",
    "risk_signals",
    "specialist",
    "vague_follow_up",
]
