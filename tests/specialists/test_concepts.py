"""The support-domain concept lexicon: a customer's everyday words reach the category a business named in its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import InboundEmail, Policy, load_tenant_file
from specialists.triage import ClassifyRequest, classify_offline
from specialists.triage._concepts import CONCEPTS, concept_tokens

# Categories named as a business would, sharing no word with how the customers below write.
POLICY = Policy.model_validate(
    {
        "categories": [
            {"name": "other", "description": "Anything else", "queue": "front_desk"},  # wins a tie of no evidence
            {"name": "shipping", "description": "Delivery problems", "queue": "logistics"},
            {"name": "login", "description": "Account access", "queue": "it_desk"},
            {"name": "billing", "description": "Invoices and payments", "queue": "finance"},
        ],
        "priorities": [{"priority": "P3"}],
        "drafting": {"signature": "The Support Desk", "templates": {"default": "{answer}\n\n{signature}"}},
    }
)


@pytest.mark.parametrize(
    ("customer", "business", "concept"),
    [
        ("I was charged twice this month", "Invoices and payments", "§money"),
        ("the parcel never came", "Delivery problems", "§delivery"),
        ("I can't get in since Monday", "Account access", "§access"),
        ("please give me back what I paid", "Refunds", "§refund"),
    ],
)
def test_a_customers_words_and_a_business_name_for_the_need_share_a_concept(
    customer: str, business: str, concept: str
) -> None:
    assert concept in concept_tokens(customer)
    assert concept in concept_tokens(business)


def test_a_concept_counts_once_for_each_word_where_one_of_its_entries_starts() -> None:
    assert concept_tokens("charged twice") == ["§money"]  # the phrase and the word `charged` start at one word
    assert concept_tokens("double charged") == ["§money", "§money"]  # `double charged`, then `charged`
    assert concept_tokens("the weather was nice") == []


@pytest.mark.parametrize(
    ("subject", "body", "category"),
    [
        ("twice?", "Hello, I was charged twice this month.", "billing"),
        ("where is it", "The parcel never came, the courier says it was left outside.", "shipping"),
        ("locked out", "I can't get in since Monday, the password reset link does nothing.", "login"),
    ],
)
def test_an_email_sharing_no_word_with_its_category_is_classified_by_concept(
    subject: str, body: str, category: str
) -> None:
    email = InboundEmail(sender="someone@example.org", subject=subject, body=body)
    assert classify_offline(ClassifyRequest(email=email), POLICY).category == category


def test_every_entry_of_the_lexicon_is_written_once_in_lower_case() -> None:
    for concept, listed in CONCEPTS.items():
        entries = [entry.strip() for entry in listed.split(",")]
        assert all(entries), concept
        assert all(entry == entry.casefold() for entry in entries), concept
        assert len(entries) == len(set(entries)), [e for e in entries if entries.count(e) > 1]


# A business whose security category's keywords say `didn't` and `don't`.
TECH_AND_SECURITY = Policy.model_validate(
    {
        "categories": [
            {
                "name": "tech_support",
                "description": "The website and the app, sign-in problems, company single sign-on, error messages",
                "queue": "platform",
                "keywords": ["app", "browser", "login", "error"],
            },
            {
                "name": "account_security",
                "description": "Hacked accounts, sign-ins the learner doesn't recognise, payments they didn't make",
                "queue": "security",
                "keywords": ["hacked", "didn't make this payment", "not me", "didn't authorise", "don't recognise"],
            },
        ],
        "priorities": [{"priority": "P3"}],
        "drafting": {"signature": "The Support Desk", "templates": {"default": "{answer}\n\n{signature}"}},
    }
)


def test_what_is_left_of_a_contraction_is_no_evidence_of_a_topic() -> None:
    # a security keyword "didn't make this payment" shared `didn` with any email saying "that didn't fix it"
    # a reply to a single sign-on error: no word of security but its contractions
    body = "That didn't help, it still doesn't work for the trainees and I don't know what they did wrong."
    email = InboundEmail(sender="rachel@example.com", subject="Re: Sign in with your organisation", body=body)
    assert classify_offline(ClassifyRequest(email=email), TECH_AND_SECURITY).category == "tech_support"


def test_a_choice_the_words_and_the_concepts_agree_on_is_surer() -> None:
    # an insurer's customer in her second language: "give back" and "take the premium" say money taken and a
    # refund; her words alone chose the payments category too, by a margin the concepts widen
    tenant = load_tenant_file(Path(__file__).resolve().parents[2] / "evals/tuning-insurance/tenants/thatchwell.yaml")
    body = (
        "Dear Thatchwell,\n\nI sold my flat in 12 Bellevue Terrace in end of February and I informed you in the same "
        "week (your colleague Jordan on telephone). But you still take the premium for this flat in March and April, "
        "£30.60 each month. I don't have this flat no more, so please give back the £61.20 to my account.\n\n"
        "The other two flats stay the same.\n\nObrigada,\nLúcia Ferreira"
    )
    email = InboundEmail(sender="lucia.ferreira@correiomail.example.com", subject="money for flat I sold", body=body)
    result = classify_offline(ClassifyRequest(email=email), tenant.policy)
    assert result.category == "premiums_payments"
    assert result.confidence >= tenant.policy.escalate.below_confidence
