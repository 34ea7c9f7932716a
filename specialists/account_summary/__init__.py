"""The account summary specialist (entry point `account_summary = specialists.account_summary:specialist`).

Starts from an `AccountReviewRequest`, not an email: reads the account and its interactions from the CRM and the
tickets of the contacts the request names from the helpdesk, judges them (`account_summary.assess`; offline: a
rule over counts, open tickets, priorities, escalating categories and the account's status) and writes the
summary as one internal note on the account (`crm.log_interaction`, channel `note`) with an idempotency key.
Scopes: crm:read, crm:write, helpdesk:read.
"""

from specialists.account_summary._assess import ASSESS, AccountFacts, Assessment, TicketFact, assess_offline
from specialists.account_summary._specialist import AccountSummarySpecialist, specialist

__all__ = [
    "ASSESS",
    "AccountFacts",
    "AccountSummarySpecialist",
    "Assessment",
    "TicketFact",
    "assess_offline",
    "specialist",
]
