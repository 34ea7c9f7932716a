"""The offline classifier's ranker: its confidence is a probability over the policy's categories, two categories
the email reads alike share it (and the email goes to a person), and a feature counts relative to the other
categories, never by its size in one policy."""

from __future__ import annotations

import math

import pytest

from schemas import InboundEmail, Policy
from specialists.triage import ClassifyRequest, _ranker, classify_offline, escalation_reasons


def _policy(*categories: dict[str, object]) -> Policy:
    return Policy.model_validate(
        {
            "categories": list(categories),
            "priorities": [{"priority": "P3"}],
            "drafting": {"signature": "The Support Desk", "templates": {"default": "{answer}\n\n{signature}"}},
        }
    )


TWINS = _policy(
    {"name": "orders", "description": "Orders that arrived damaged or late", "queue": "desk"},
    {"name": "parcels", "description": "Orders that arrived damaged or late", "queue": "desk"},
    {"name": "accounts", "description": "Signing in, passwords and profile details", "queue": "it"},
)


def test_the_weights_cover_each_feature_as_a_gap_and_a_scaled_gap() -> None:
    assert len(_ranker.LEXICAL_WEIGHTS) == 2 * len(_ranker.LEXICAL)
    assert len(_ranker.MEANING_WEIGHTS) == 2 * (len(_ranker.LEXICAL) + len(_ranker.MEANING))


def test_two_categories_the_email_reads_alike_share_the_confidence_and_it_goes_to_a_person() -> None:
    email = InboundEmail(sender="a@example.org", subject="Damaged", body="My order arrived late and damaged.")
    result = classify_offline(ClassifyRequest(email=email), TWINS)
    assert result.category in {"orders", "parcels"}
    assert result.confidence == pytest.approx(0.5, abs=0.05)
    reasons = escalation_reasons(result, TWINS.category(result.category), TWINS, email)
    assert any("confidence" in reason for reason in reasons)


def test_a_clear_email_is_chosen_with_a_high_confidence() -> None:
    email = InboundEmail(sender="a@example.org", subject="Password", body="I can't sign in, the password is refused.")
    result = classify_offline(ClassifyRequest(email=email), TWINS)
    assert result.category == "accounts" and result.confidence > 0.9


@pytest.mark.parametrize("weights", [_ranker.LEXICAL_WEIGHTS, _ranker.MEANING_WEIGHTS])
def test_probabilities_sum_to_one_and_do_not_move_when_a_feature_shifts_for_every_category(
    weights: tuple[float, ...],
) -> None:
    width = len(weights) // 2
    rows = [[(i + 1) * (j + 2) / 10 for j in range(width)] for i in range(4)]
    chances = _ranker.probabilities(rows, weights)
    assert math.fsum(chances) == pytest.approx(1.0)
    shifted = [[value + 7.0 if j == 0 else value for j, value in enumerate(row)] for row in rows]
    assert _ranker.probabilities(shifted, weights) == pytest.approx(chances)


def test_one_category_is_chosen_surely_and_a_feature_the_same_everywhere_says_nothing() -> None:
    weights = _ranker.LEXICAL_WEIGHTS
    width = len(weights) // 2
    assert _ranker.probabilities([[0.3] * width], weights) == [1.0]
    assert _ranker.probabilities([[0.3] * width, [0.3] * width], weights) == pytest.approx([0.5, 0.5])
