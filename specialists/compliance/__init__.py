"""The compliance specialist (entry point `compliance = specialists.compliance:specialist`).

Rules checked in code on every draft (forbidden phrases, Luhn-valid card numbers, addresses other
than the customer's and the business's own in its signature and templates, other customers'
addresses via crm.find_customer), plus the model's review
(`compliance.review`), and the email's injection, credit-demand and data-request signals
(`email_findings`, which sees through hidden and disguised text; offline, the whole review).
Scopes: crm:read.
"""

from specialists.compliance._review import REVIEW, Review, ReviewRequest, email_findings, review_offline
from specialists.compliance._rules import card_numbers, check_draft, email_addresses, luhn_valid, own_addresses
from specialists.compliance._specialist import MAX_REVISIONS, ComplianceSpecialist, specialist

__all__ = [
    "MAX_REVISIONS",
    "REVIEW",
    "ComplianceSpecialist",
    "Review",
    "ReviewRequest",
    "card_numbers",
    "check_draft",
    "email_addresses",
    "email_findings",
    "luhn_valid",
    "own_addresses",
    "review_offline",
    "specialist",
]
