"""Escalation is safe by construction: a report the policy always escalates (security, legal, ...) reaches a
person even when it is written in another category's words, and a vague follow-up reaches a person with the
customer's recent history, unless that history makes it clear."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from coordinator.models import OfflineModel
from schemas import InboundEmail, Policy, load_tenant_file
from specialists.triage import ClassifyRequest, classify_offline, escalation_reasons, vague_follow_up
from specialists.triage import specialist as triage
from tests.specialists.harness import World

# A business of a kind the example tenants are not: a marketplace paying out to its sellers.
POLICY = {
    "tenant": "stallholder",
    "name": "Stallholder Market",
    "policy": {
        "categories": [
            {
                "name": "payouts",
                "description": "When and how sellers are paid: payout schedules, bank account details for payouts, "
                "payout amounts, holds and fees deducted from a payout",
                "queue": "seller-payments",
                "examples": [
                    "When will my payout for last week's sales arrive?",
                    "I changed my bank account for payouts, when does the new one take effect?",
                    "Why was a fee taken out of my payout?",
                ],
                "keywords": ["payout", "paid out", "bank account", "transfer", "fee"],
            },
            {
                "name": "listings",
                "description": "Creating and editing product listings, photos, prices and stock",
                "queue": "seller-success",
                "examples": ["How do I add more photos to a listing?", "My listing price shows the old amount."],
                "keywords": ["listing", "photo", "price", "stock"],
            },
            {
                "name": "account_security",
                "description": "Someone else got into a seller account: unknown logins, changed passwords or "
                "changed bank details the seller did not make, phishing",
                "queue": "trust",
                "examples": [
                    "Someone logged into my shop from another country.",
                    "My password was changed and it was not me.",
                ],
                "keywords": ["hacked", "unknown login", "not me", "phishing", "takeover"],
            },
        ],
        "priorities": [{"priority": "P3"}],
        "escalate": {"categories": ["account_security"], "below_confidence": 0.3},
        "drafting": {"signature": "Stallholder Seller Support"},
    },
}


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    path = tmp_path / "stallholder.yaml"
    path.write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    return load_tenant_file(path).policy


def reasons_for(policy: Policy, subject: str, body: str) -> tuple[str, list[str]]:
    email = InboundEmail(sender="seller@example.org", subject=subject, body=body)
    classification = classify_offline(ClassifyRequest(email=email), policy)
    return classification.category, escalation_reasons(
        classification, policy.category(classification.category), policy, email
    )


def test_a_takeover_written_as_a_payout_question_escalates(policy: Policy) -> None:
    category, reasons = reasons_for(
        policy,
        "Payout went to a different bank account",
        "Hi, this week's payout was transferred to a bank account I don't recognise, I never changed the bank "
        "account for payouts. I think we were hacked. Also, when is the payout fee charged?",
    )
    assert category == "payouts"  # read as the ordinary category it is written in...
    assert any("account_security" in r for r in reasons)  # ...and still sent to a person


def test_an_ordinary_payout_question_does_not_escalate(policy: Policy) -> None:
    category, reasons = reasons_for(
        policy, "Payout date", "When will the payout for last week's sales be transferred to my bank account?"
    )
    assert category == "payouts" and reasons == []


@pytest.mark.parametrize(
    "body",
    ["Same again today, please check what I wrote before.", "Any news? See my previous email.", "Still waiting..."],
)
def test_a_vague_follow_up_goes_to_a_person_with_the_recent_history(policy: Policy, body: str) -> None:
    email = InboundEmail(sender="seller@example.org", subject="Hello", body=body)
    history = ["email: asked about a fee on the March payout"]
    [reason] = vague_follow_up(
        email, policy, open_tickets=["T-1 [open] Fee on payout", "T-2 [open] Photos"], recent=history
    )
    assert "T-1 [open] Fee on payout" in reason and "asked about a fee" in reason


def test_a_follow_up_is_clear_when_it_says_what_is_wrong_or_has_one_open_ticket(policy: Policy) -> None:
    specific = InboundEmail(
        sender="seller@example.org", subject="Re: fee", body="Same problem again: a fee was taken from my payout."
    )
    assert vague_follow_up(specific, policy, open_tickets=[], recent=[]) == []
    vague = InboundEmail(sender="seller@example.org", subject="Hello", body="Same again today, see my last email.")
    assert vague_follow_up(vague, policy, open_tickets=["T-1 [open] Fee on payout"], recent=[]) == []


@pytest.mark.anyio
async def test_the_triage_specialist_escalates_a_vague_follow_up_over_the_real_servers(world: World) -> None:
    email = InboundEmail(
        sender=world.tenants["acme"].customers[0].email,
        subject="hello",
        body="Same again today. Please check what I wrote before.",
    )
    async with world.context(triage, "acme", OfflineModel()) as ctx:
        result = await triage.run(email, ctx)
    assert result.escalate and any("follow-up" in r for r in result.escalation_reasons), result.escalation_reasons
