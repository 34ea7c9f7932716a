"""`deskhand tenant check`: what a business should fix in its tenant file before going live.

Errors are what `deskhand init` would refuse (each with its field). Warnings are what would hurt in use:
categories the offline engine confuses on the file's own examples (leave-one-out: each example classified
by the policy without it), escalating categories without examples, templates without a greeting or the
signature (deskhand adds them, but the business may want its own words), priority rules that can never match.
It also shows where each kind of risk report goes (fraud, danger, legal action, ...): the escalating category
that covers it, or none.

`deskhand tenant read FILE EMAIL.json` shows how triage reads one email of the business's own mail by the file,
offline: what it is filed under and how sure, the risk reports it makes, its priority and why, and whether it goes
to a person.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from schemas import ConfigError, InboundEmail, Policy, PriorityRule, TenantFile, load_tenant_file
from specialists.drafting import starts_with_greeting
from specialists.triage import (
    ClassifyRequest,
    classify_offline,
    coverage,
    escalating_keywords_said,
    escalation_reasons,
    priority_for,
    reread_for_risk,
    risk_signals,
    vague_follow_up,
)

CONFUSED_BELOW = 0.8
"""A category whose own examples are classified right less often than this (leave-one-out) is a warning."""


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    field: str
    message: str


@dataclass
class TenantCheck:
    file: Path
    tenant: str | None = None
    findings: list[Finding] = field(default_factory=list)
    accuracy: dict[str, float | None] = field(default_factory=dict)
    """Leave-one-out accuracy of the offline engine on each category's own examples (None: fewer than two)."""
    confused: list[tuple[str, str, int]] = field(default_factory=list)
    """(category, read as, how many of its examples)."""
    risks: dict[str, str | None] = field(default_factory=dict)
    """Each kind of risk report and the escalating category it goes to (None: none covers it)."""

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)

    def as_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "tenant": self.tenant,
            "ok": self.ok,
            "findings": [f.__dict__ for f in self.findings],
            "accuracy": self.accuracy,
            "confused": [{"category": a, "read_as": b, "examples": n} for a, b, n in self.confused],
            "risks": self.risks,
        }


@dataclass
class EmailReading:
    """How triage reads one email by a tenant file, as from a sender the CRM does not know."""

    tenant: str
    category: str
    confidence: float
    rationale: str
    risks: list[tuple[str, str, str]]
    """(kind, the escalating category that covers it, what the email says of it)."""
    priority: str
    priority_rule: str
    reasons: list[str]
    """Why it goes to a person; empty: triage completes it and a draft follows."""

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "category": self.category,
            "confidence": self.confidence,
            "rationale": self.rationale,
            "risks": [{"kind": k, "category": c, "said": said} for k, c, said in self.risks],
            "priority": self.priority,
            "priority_rule": self.priority_rule,
            "escalate": bool(self.reasons),
            "reasons": self.reasons,
        }


def read_email(path: Path, email: InboundEmail) -> EmailReading:
    """Triage's offline reading of `email` by the tenant file at `path` (a `ConfigError` when the file does not
    load). The sender is read as unknown: no plan, no earlier tickets (a plan rule cannot match, and a follow-up
    that says too little goes to a person)."""
    tenant_file = load_tenant_file(path)
    policy = tenant_file.policy
    classification = reread_for_risk(classify_offline(ClassifyRequest(email=email), policy), email, policy)
    category = policy.category(classification.category)
    priority, rule = priority_for(email, None, category, policy)
    reasons = escalation_reasons(classification, category, policy, email) + vague_follow_up(email, policy, [], [])
    return EmailReading(
        tenant=tenant_file.tenant,
        category=classification.category,
        confidence=classification.confidence,
        rationale=classification.rationale,
        risks=[(s.kind.name, s.category.name, s.said) for s in risk_signals(email.subject, email.body, policy)],
        priority=priority,
        priority_rule=rule,
        reasons=reasons,
    )


Progress = Callable[[int, int], None]
"""Told, as the leave-one-out goes, how many of the file's examples are read and how many there are."""


def check_tenant_file(path: Path, progress: Progress | None = None) -> TenantCheck:
    result = TenantCheck(path)
    try:
        tenant = load_tenant_file(path)
    except ConfigError as exc:
        result.findings.append(Finding("error", exc.field or "", exc.message))
        return result
    result.tenant = tenant.tenant
    result.risks = coverage(tenant.policy)
    _leave_one_out(tenant.policy, result, progress or (lambda done, total: None))
    _escalating_without_examples(tenant.policy, result)
    _ordinary_mail_that_escalates(tenant.policy, result)
    _templates(tenant.policy, result)
    _unreachable_rules(tenant, result)
    return result


def _leave_one_out(policy: Policy, result: TenantCheck, progress: Progress) -> None:
    confused: Counter[tuple[str, str]] = Counter()
    total = sum(len(c.examples) for c in policy.categories if len(c.examples) >= 2)
    done = 0
    for index, category in enumerate(policy.categories):
        if len(category.examples) < 2:
            result.accuracy[category.name] = None
            result.findings.append(
                Finding(
                    "warning",
                    f"policy.categories[{index}].examples",
                    f"'{category.name}' has {len(category.examples)} example(s): give at least two (five is better)",
                )
            )
            continue
        right = 0
        for left_out in range(len(category.examples)):
            examples = [e for i, e in enumerate(category.examples) if i != left_out]
            categories = [*policy.categories]
            categories[index] = category.model_copy(update={"examples": examples})
            email = InboundEmail(sender="example@example.com", subject="", body=category.examples[left_out])
            read_as = classify_offline(
                ClassifyRequest(email=email), policy.model_copy(update={"categories": categories})
            ).category
            right += read_as == category.name
            if read_as != category.name:
                confused[(category.name, read_as)] += 1
            done += 1
            progress(done, total)
        accuracy = right / len(category.examples)
        result.accuracy[category.name] = round(accuracy, 3)
        if accuracy < CONFUSED_BELOW:
            worst = [(b, n) for (a, b), n in confused.most_common() if a == category.name]
            result.findings.append(
                Finding(
                    "warning",
                    f"policy.categories[{index}]",
                    f"'{category.name}': {right} of {len(category.examples)} of its own examples are read as it; "
                    f"confused with {', '.join(f'{b!r} ({n})' for b, n in worst)}: make its description, keywords "
                    "and examples say what sets it apart",
                )
            )
    result.confused = [(a, b, n) for (a, b), n in confused.most_common()]


def _escalating_without_examples(policy: Policy, result: TenantCheck) -> None:
    for name in policy.escalate.categories:
        category = policy.category(name)
        if category is not None and not category.examples:
            result.findings.append(
                Finding(
                    "warning",
                    "policy.escalate.categories",
                    f"'{name}' always goes to a person but has no examples: the mail it stands for may not be found",
                )
            )


def _ordinary_mail_that_escalates(policy: Policy, result: TenantCheck) -> None:
    """An example or keyword of a category the policy does not escalate that reads as a risk report, or says a
    keyword of an escalating category (as escalation matches it: a riding school's `hacked` is also a hack): mail like
    it always goes to a person (a tattoo studio's "are your needles single-use?" is a danger signal)."""
    for index, category in enumerate(policy.categories):
        if category.name in policy.escalate.categories:
            continue
        for kind, texts in (("examples", category.examples), ("keywords", category.keywords)):
            for at, text in enumerate(texts):
                signals = risk_signals("", text, policy)
                if signals:
                    signal = signals[0]
                    why = f"reads as {signal.kind.name} ({signal.said!r}), which '{signal.category.name}' covers"
                elif said := escalating_keywords_said(text, policy):
                    name, hits = next(iter(said.items()))
                    why = f"says {hits[0]!r}, a keyword of '{name}' (matched by its root, in any sense)"
                else:
                    continue
                result.findings.append(
                    Finding(
                        "warning",
                        f"policy.categories[{index}].{kind}[{at}]",
                        f"'{category.name}': mail like {text!r} {why}: it always goes to a person",
                    )
                )


def _templates(policy: Policy, result: TenantCheck) -> None:
    signature = policy.drafting.signature.strip().casefold()
    for name, body in policy.drafting.templates.items():
        where = f"policy.drafting.templates.{name}"
        if not starts_with_greeting(body) and not body.lstrip().startswith("{customer_name}"):
            result.findings.append(
                Finding("warning", where, "no greeting at its start: deskhand greets the customer before it")
            )
        if "{signature}" not in body and signature not in body.casefold():
            result.findings.append(
                Finding("warning", where, "no {signature}: deskhand ends the draft with the signature after it")
            )


def _unreachable_rules(tenant: TenantFile, result: TenantCheck) -> None:
    rules = tenant.policy.priorities
    for index, rule in enumerate(rules[:-1]):
        shadow = next((j for j in range(index) if _covers(rules[j], rule)), None)
        if shadow is not None:
            result.findings.append(
                Finding(
                    "warning",
                    f"policy.priorities[{index}]",
                    f"never matches: priorities[{shadow}] comes first and matches every message this one does",
                )
            )


def _covers(earlier: PriorityRule, later: PriorityRule) -> bool:
    """`earlier` matches every message `later` matches (so `later`, coming after it, never decides)."""
    phrases_cover = not earlier.when_any or (
        bool(later.when_any)
        and all(any(e.casefold() in p.casefold() for e in earlier.when_any) for p in later.when_any)
    )
    return (
        phrases_cover
        and (earlier.plan is None or earlier.plan == later.plan)
        and (earlier.category is None or earlier.category == later.category)
    )
