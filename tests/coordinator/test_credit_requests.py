"""Which credit an email asks for: the amount as customers write it, in their own lines only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coordinator._router import plan_actions
from schemas import Classification, CustomerContext, InboundEmail, TriageResult

CUSTOMER = CustomerContext(
    customer_id="C-1", name="Ana Lima", account_id="A-1", plan="any-plan", account_status="active"
)


def triage(body: str, subject: str = "Refund please") -> TriageResult:
    return TriageResult(
        email=InboundEmail(sender="ana@example.org", subject=subject, body=body),
        customer=CUSTOMER,
        classification=Classification(category="billing", confidence=0.9),
        queue="billing",
        priority="P3",
        priority_rule="default",
        escalate=False,
    )


@pytest.mark.parametrize(
    ("body", "cents"),
    [
        ("Please refund the duplicate $120.00 charge.", 12_000),
        ("Please credit the express charge of 38.60 EUR to our account.", 3_860),
        ("Bitte erstatten: I want a refund of 12,50 € for the late delivery.", 1_250),
        ("The difference is 1.234,56 EUR; please issue a credit note.", 123_456),
        ("We were overcharged. Please give back the €55.", 5_500),
        ("Could I have £7.5 back as compensation?", 750),
        ("Refund USD 40 please, the order total was USD 300 last year.", 4_000),
        ("I was charged 1.50 two times for one boost. Kindly refund the extra 1.50 to my balance.", 150),
        (
            "Your engineer never came. Your website says you pay £30 for that, so please add the £30 to my account.",
            3_000,
        ),
        ("You took £42.50 twice this month. Can you pay the second £42.50 back to the bank please?", 4_250),
        ("The stain was there when we arrived. I'd like the £180 back please.", 18_000),
        ("You took £19.99 for a month I had cancelled. Can I get it back?", 1_999),
        ("I paid £8.99 for the lost book. It turned up, so can I have the £8.99 back please?", 899),
        ("The £36 deposit was taken twice from our card. Could you put one of the £36 payments back please?", 3_600),
        ("Please send the £12 back to my card, the class was cancelled.", 1_200),
    ],
)
def test_the_amount_asked_for_is_read_as_customers_write_it(body: str, cents: int) -> None:
    [action] = plan_actions(triage(body, subject="A question"))
    assert action.tool == "crm.issue_credit" and action.arguments["amount_cents"] == cents


@pytest.mark.parametrize(
    "body",
    [
        "How does the receiver get his money back?\n\n> On Monday Urs wrote:\n> the courier asked us for CHF 184.30",
        "Please refund my order 12345 from 10:30 this morning.",  # numbers, but no sum of money
        "The invoice says €40 but the website said €35. Why?",  # money, but no credit asked for
        "Please refund the order from 16.11.2026, item 3.5 of the list.",  # a date and a number, no sum
        # the phone back, not money: the offer fell from £265 to £140
        "The offer went from £265 to £140. If I don't accept, do I get the phone back for free?",
        "I put the £20 lamp back in its box; when will the courier collect it?",  # an item put back, not money
        "I waited from 7pm until 7.25pm and nobody came. Is the session lost or do I get it back?",  # a time
    ],
)
def test_no_credit_is_proposed_without_an_amount_the_customer_asks_for(body: str) -> None:
    assert plan_actions(triage(body, subject="A question")) == []


@given(st.text(max_size=400))
def test_any_text_proposes_at_most_one_positive_credit(body: str) -> None:
    actions = plan_actions(triage(f"refund {body}"))
    assert len(actions) <= 1 and all(a.arguments["amount_cents"] > 0 for a in actions)
