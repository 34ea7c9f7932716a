"""The parts of an email the offline engine tells apart: a subject the body disowns is not what the email is about."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import InboundEmail, load_tenant_file
from specialists.kit import before_sign_off, disowned_subject, without_disowned
from specialists.triage import ClassifyRequest, classify_offline
from specialists.triage._classify import similarities
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


@pytest.mark.parametrize(
    ("body", "gone", "left"),
    [
        ("I don't want to make a complaint, the engineer left mud on the carpet.", "complaint", "carpet"),
        ("I'm a member but honestly the points aren't what I'm writing about. The flight was late.", "points", "late"),
        ("I'm not asking for a refund, I just want to move the date.", "refund", "move"),
        ("No, I don't actually want to cancel - but the box came on a Wednesday again.", "cancel", "Wednesday"),
        ("We're not writing about the invoice; the door code stopped working.", "invoice", "door"),
        ("This is not a complaint, but could the class start at 7?", "complaint", "class"),
        ("It's nothing to do with the bill, the app logs me out.", "bill", "app"),
    ],
)
def test_what_the_customer_says_they_are_not_writing_about_is_left_out(body: str, gone: str, left: str) -> None:
    kept = without_disowned(body)
    assert gone not in kept and left in kept


@pytest.mark.parametrize(
    "body",
    [
        "It's not really working since Monday.",
        "I don't want to pay twice for one order.",
        "I'm not able to log in and I don't want to lose my saved cards.",
        "We haven't had the refund, and no one answers the phone.",
        "I really want to know why the charge is not a refund.",
        "I don't really want to wait another week for the engineer.",
    ],
)
def test_an_ordinary_negation_is_read_as_written(body: str) -> None:
    assert without_disowned(body) == body


def test_a_subject_the_customer_says_they_are_not_asking_for_is_disowned_by_that_clause_alone() -> None:
    kept = disowned_subject("Cancel my membership??", "No, I don't actually want to cancel - but the box came late.")
    assert kept is not None and "cancel" not in kept and "box came late" in kept
    kept = disowned_subject("Invoice", "I'm not asking about the invoice, I need the export to work.")
    assert kept == ", I need the export to work."


@pytest.mark.parametrize(
    ("subject", "body", "category"),
    [
        (
            "Invoice",
            "I'm not asking for a refund or a credit on the invoice, I just want the CSV export to stop failing "
            "with an error.",
            "technical",
        ),
        ("Export", "I'm not writing about the invoice or the refund, the export to CSV fails every time.", "technical"),
        (
            "Billing question",
            "Billing isn't what I'm writing about, sorry. The export keeps failing with a timeout.",
            "technical",
        ),
        (
            "Quick one",
            "I don't want to make a complaint about the invoice or the payment, but the API export returns "
            "a 500 error since Monday.",
            "technical",
        ),
        (
            "Seats",
            "We don't actually want to add seats or change the subscription, we need the SSO login to stop failing.",
            "account_access",
        ),
    ],
)
def test_an_email_is_classified_by_what_it_asks_not_by_what_it_says_it_is_not_about(
    subject: str, body: str, category: str
) -> None:
    policy = load_tenant_file(EXAMPLE_TENANTS / "acme.yaml").policy
    email = InboundEmail(sender="ops@example.org", subject=subject, body=body)
    assert classify_offline(ClassifyRequest(email=email), policy).category == category  # billing, by its words


def test_the_escalation_guard_still_reads_a_topic_the_customer_disowns() -> None:
    """ "This is not about a breach, but..." leaves the ranker's reading, never the guard's: a report can hide so."""
    policy = load_tenant_file(EXAMPLE_TENANTS / "acme.yaml").policy
    email = InboundEmail(
        sender="ops@example.org",
        subject="Quick one",
        body="This is not about a security breach or a leaked api key, but can you send me every user's password?",
    )
    assert similarities(email, policy)["security"] > similarities(email, policy)["billing"]
    said = InboundEmail(sender="ops@example.org", subject="Quick one", body="Can you send me every user's password?")
    assert similarities(email, policy)["security"] > similarities(said, policy)["security"]


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
        # everyday ones, alone on their line or with a name
        "Ta,",
        "Ta very much!",
        "Ta, Jonas",
        "Thx",
        "Thanks in advance,",
        "All the best,",
        "Take care",
        "Lots of love",
        "Diolch,",
        "Diolch yn fawr",
        "Hwyl",
        "Med venlig hilsen",
        "Ystävällisin terveisin",
        "С уважением,",
        "Un saludo",
    ],
)
def test_a_sign_off_in_any_language_or_register_starts_the_footer(sign_off: str) -> None:
    body = f"Where is my order?\n{sign_off}\nJonas\nThis email may contain personal data; beware of fraud."
    assert before_sign_off(body).strip() == "Where is my order?"


@pytest.mark.parametrize(
    "line", ["Take care of it, the leak is getting worse", "Love the app", "Tax fraud alert", "Ta-da, it broke again"]
)
def test_a_sentence_that_opens_like_an_everyday_sign_off_is_still_read(line: str) -> None:
    body = f"Where is my order?\n{line}\nJonas"
    assert line in before_sign_off(body)


@given(st.text(max_size=2000), st.text(max_size=300))
def test_any_text_is_read_without_error(body: str, subject: str) -> None:
    kept = disowned_subject(subject, body)
    assert kept is None or len(kept) < len(body)  # only whole sentences that disown the subject are taken out
    assert len(before_sign_off(body)) <= len(body)
    assert len(without_disowned(body)) <= len(body)  # only clauses are taken out, never words added
