"""The `account_summary.assess` judgment, and its offline form: a rule over what the tools returned."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas import Policy
from specialists.kit import Judgment

OPEN = ("new", "open", "pending")
MANY_OPEN = 3
"""This many open tickets at once is a flag on its own."""
TOPICS = 5


class TicketFact(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    subject: str
    status: str
    priority: str | None = None
    category: str | None = None


class AccountFacts(BaseModel):
    """An account as the tools show it: interactions and tickets newest first."""

    model_config = ConfigDict(frozen=True)

    name: str
    plan: str
    status: str
    interactions: list[str] = Field(default_factory=list)
    """The summaries of the account's contacts with the customer (internal notes left out)."""
    tickets: list[TicketFact] = Field(default_factory=list)


class Assessment(BaseModel):
    model_config = ConfigDict(frozen=True)

    open_tickets: list[str] = Field(default_factory=list)
    recent_topics: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    """Each a reason a person should look at the account now."""


INSTRUCTIONS = """\
You summarise one customer account for the support team of the business whose policy is given above.
List each ticket that is not solved or closed in `open_tickets` as `ID: subject (priority, status)`.
In `recent_topics`, name at most five things the customer contacted us about recently, newest first.
In `flags`, give one sentence for each reason a person should look at the account now: the account is not
active, an open P1 ticket, an open ticket in a category the policy escalates, three or more open tickets.
Flag nothing else, and nothing when none of these holds."""


def assess_offline(facts: AccountFacts, policy: Policy) -> Assessment:
    """The flags the instructions name, found by rule; topics are the newest ticket subjects and interactions."""
    open_tickets = [t for t in facts.tickets if t.status in OPEN]
    flags = [] if facts.status == "active" else [f"the account is {facts.status}"]
    flags += [f"open P1 ticket {t.id}: {t.subject}" for t in open_tickets if t.priority == "P1"]
    flags += [
        f"open ticket {t.id} is {t.category}, a category that goes to a person"
        for t in open_tickets
        if t.category is not None and t.category in policy.escalate.categories
    ]
    if len(open_tickets) >= MANY_OPEN:
        flags.append(f"{len(open_tickets)} tickets are open")
    topics: list[str] = []
    for topic in [*(t.subject for t in facts.tickets[:TOPICS]), *facts.interactions[:TOPICS]]:
        short = topic if len(topic) <= 120 else topic[:119] + "…"
        if short not in topics:
            topics.append(short)
    return Assessment(
        open_tickets=[f"{t.id}: {t.subject} ({t.priority or 'no priority'}, {t.status})" for t in open_tickets],
        recent_topics=topics[:TOPICS],
        flags=flags,
    )


ASSESS = Judgment(
    name="account_summary.assess",
    instructions=INSTRUCTIONS,
    input=AccountFacts,
    output=Assessment,
    offline=assess_offline,
)
