"""The parts of an email the offline engine tells apart: a subject the body disowns is not what the email is about."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import InboundEmail, load_tenant_file
from specialists.kit import before_sign_off, disowned_subject
from specialists.triage import ClassifyRequest, classify_offline
from tests.conftest import EXAMPLE_TENANTS


@pytest.mark.parametrize(
    ("subject", "body", "left"),
    [
        (
            "Invoice query",
            "Sorry, wrong subject line, it's not about the invoice at all. Can the crew start at 7?",
            "crew",
        ),
        ("Damage report", "No damage actually, sorry for the subject! I left my keys in the car.", "keys"),
        (
            "Re: Your renewal",
            "Not about the renewal actually - my son starts university. Is his laptop covered?",
            "laptop",
        ),
        ("Re: invoice 2231", "Nothing to do with the invoice, that's paid. How do I add a user?", "user"),
        ("Complaint", "Not really a complaint, the form made me pick a subject! Where do I collect the keys?", "keys"),
        ("Refund", "Hi - sorry, ignore the subject, I replied to an old email. My card was declined.", "card"),
    ],
)
def test_a_subject_the_body_disowns_is_left_out_with_the_sentence_that_disowns_it(
    subject: str, body: str, left: str
) -> None:
    kept = disowned_subject(subject, body)
    assert kept is not None and left in kept
    assert subject.split()[-1].casefold() not in kept.casefold()  # the topic it is not about is gone too


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("discount code", "The receipt shows the code but no discount at all. Can you apply it?"),
        ("No signal", "My mobile has had no signal since 2pm, it only says SOS."),
        ("Invoice", "Subject: wrong amount\nThe invoice is for 12 seats, we have 10."),  # a forwarded header line
        ("Refund", "It's not about the money, it's the principle: I was charged twice for one refund."),
        ("Data request", "This is a subject access request for everything you hold on my old account."),
    ],
)
def test_a_subject_the_body_keeps_stands(subject: str, body: str) -> None:
    assert disowned_subject(subject, body) is None


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        (
            "Invoice and refund",
            "Sorry, ignore the subject, I replied to an old email. I can't log in since this morning.",
        ),
        (
            "Refund on my invoice",
            "Nothing to do with the invoice, that's paid. The password reset email never arrives.",
        ),
    ],
)
def test_an_email_under_a_disowned_subject_is_classified_by_what_it_asks(subject: str, body: str) -> None:
    policy = load_tenant_file(EXAMPLE_TENANTS / "acme.yaml").policy
    email = InboundEmail(sender="ops@example.org", subject=subject, body=body)
    assert (
        classify_offline(ClassifyRequest(email=email), policy).category == "account_access"
    )  # billing, by the subject


def test_before_the_sign_off_keeps_the_senders_words_and_drops_their_footer() -> None:
    body = "My card was stolen.\n\nKind regards,\nAnn Lee\nThis email may contain personal data."
    assert before_sign_off(body).strip() == "My card was stolen."
    assert before_sign_off("Hi,\nSomeone hacked my account.") == "Hi,\nSomeone hacked my account."  # no sign-off
    forwarded = "See below.\nThanks\nAnn\n---------- Forwarded message ---------\nFrom: Bank\nYour card is blocked."
    assert "Your card is blocked." in before_sign_off(forwarded)


@pytest.mark.parametrize(
    "sign_off",
    [
        "Mit freundlichen Grüßen",
        "Viele Grüße,",
        "Cordialement,",
        "Saludos cordiales",
        "Obrigada!",
        "Pozdrawiam",
        "With regards,",
        "Muchas gracias,",
        "Merci beaucoup",
    ],
)
def test_a_sign_off_in_another_language_starts_the_footer(sign_off: str) -> None:
    body = f"Where is my order?\n{sign_off}\nJonas\nThis email may contain personal data; beware of fraud."
    assert before_sign_off(body).strip() == "Where is my order?"


@given(st.text(max_size=2000), st.text(max_size=300))
def test_any_text_is_read_without_error(body: str, subject: str) -> None:
    kept = disowned_subject(subject, body)
    assert kept is None or len(kept) < len(body)  # only whole sentences that disown the subject are taken out
    assert len(before_sign_off(body)) <= len(body)
