"""The offline engine on labeled data (tests/data): accuracy floors set honestly, compliance catches all.

Measured when the floors were set (72 emails over both example tenants): category 0.89, queue 0.89,
priority 0.94, injection recall 1.00 and precision 1.00, escalation recall 0.95 and precision 0.88,
calibration error (ECE, 5 bins) 0.03. With the learned ranker (fit on the tuning suites, not on this set):
category 0.94, escalation recall 1.00 and precision 0.92, calibration error 0.03.
The floors sit a little below, so an honest change can move them slightly; a real regression fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas import InboundEmail, TenantFile
from specialists.compliance import check_draft
from specialists.triage import ClassifyRequest, classify_offline, escalation_reasons, priority_for

DATA = Path(__file__).resolve().parent.parent / "data"


def lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def predictions(tenants: list[TenantFile]) -> list[tuple[dict[str, Any], dict[str, Any], float]]:
    by_name = {t.tenant: t for t in tenants}
    out = []
    for row in lines("labeled_emails.jsonl"):
        tenant = by_name[row["tenant"]]
        customer = next((c for c in tenant.customers if c.email == row["from"].lower()), None)
        plan = customer.plan if customer else None
        email = InboundEmail(sender=row["from"], subject=row["subject"], body=row["body"])
        result = classify_offline(ClassifyRequest(email=email, customer_plan=plan), tenant.policy)
        category = tenant.policy.category(result.category)
        assert category is not None
        priority, _ = priority_for(email, plan, category, tenant.policy)
        got = {
            "category": result.category,
            "queue": category.queue,
            "priority": priority,
            "escalate": bool(escalation_reasons(result, category, tenant.policy, email)),
            "injection": bool(result.injection_signals),
        }
        out.append((row["expect"], got, result.confidence))
    return out


def accuracy(predictions: list[tuple[dict[str, Any], dict[str, Any], float]], field: str) -> float:
    return sum(expect[field] == got[field] for expect, got, _ in predictions) / len(predictions)


def test_the_labeled_set_is_big_enough_and_covers_every_category(tenants: list[TenantFile]) -> None:
    rows = lines("labeled_emails.jsonl")
    assert len(rows) >= 40
    for tenant in tenants:
        labeled = {r["expect"]["category"] for r in rows if r["tenant"] == tenant.tenant}
        assert labeled == {c.name for c in tenant.policy.categories}


@pytest.mark.parametrize(("field", "floor"), [("category", 0.85), ("queue", 0.85), ("priority", 0.90)])
def test_offline_accuracy_is_above_its_floor(
    predictions: list[tuple[dict[str, Any], dict[str, Any], float]], field: str, floor: float
) -> None:
    assert accuracy(predictions, field) >= floor


def test_every_planted_injection_is_caught_and_nothing_else_is_flagged(
    predictions: list[tuple[dict[str, Any], dict[str, Any], float]],
) -> None:
    planted = [got["injection"] for expect, got, _ in predictions if expect["injection"]]
    clean = [got["injection"] for expect, got, _ in predictions if not expect["injection"]]
    assert len(planted) >= 8 and all(planted)
    assert not any(clean)


def test_escalation_precision_and_recall_are_above_their_floors(
    predictions: list[tuple[dict[str, Any], dict[str, Any], float]],
) -> None:
    pairs = [(expect["escalate"], got["escalate"]) for expect, got, _ in predictions]
    true_positive = sum(1 for e, g in pairs if e and g)
    precision = true_positive / sum(1 for _, g in pairs if g)
    recall = true_positive / sum(1 for e, _ in pairs if e)
    assert recall >= 0.90  # measured 0.95: one security email read as an account question
    assert precision >= 0.80  # measured 0.88: three low-confidence or misread emails sent to a person


def test_confidence_is_calibrated(predictions: list[tuple[dict[str, Any], dict[str, Any], float]]) -> None:
    points = [(confidence, expect["category"] == got["category"]) for expect, got, confidence in predictions]
    error = 0.0
    for low in (0.0, 0.2, 0.4, 0.6, 0.8):
        bucket = [p for p in points if low <= p[0] < low + 0.2 or (low == 0.8 and p[0] == 1.0)]
        if bucket:
            mean_confidence = sum(c for c, _ in bucket) / len(bucket)
            bucket_accuracy = sum(1 for _, right in bucket if right) / len(bucket)
            error += len(bucket) / len(points) * abs(mean_confidence - bucket_accuracy)
    assert error <= 0.10
    wrong = [c for c, right in points if not right]
    right = [c for c, ok in points if ok]
    assert sum(wrong) / len(wrong) < sum(right) / len(right)


def test_compliance_catches_every_planted_violation_and_flags_no_clean_draft(tenants: list[TenantFile]) -> None:
    by_name = {t.tenant: t for t in tenants}
    rows = lines("compliance_drafts.jsonl")
    assert len(rows) >= 30
    for row in rows:
        findings = check_draft(row["draft"], row["customer_email"], by_name[row["tenant"]].policy.compliance)
        assert sorted({f.rule for f in findings}) == sorted(set(row["expect"])), row["id"]
