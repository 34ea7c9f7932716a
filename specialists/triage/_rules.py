"""Priority and escalation: the tenant's rules, applied in code (the model never sets them)."""

from __future__ import annotations

from schemas import Category, Classification, InboundEmail, Plan, Policy, Priority


def priority_for(
    email: InboundEmail, plan: Plan | None, category: Category | None, policy: Policy
) -> tuple[Priority, str]:
    """The first matching rule of `policy.priorities` wins. A rule matches when all its conditions do:
    `when_any` (a phrase in subject or body, case-insensitive), `plan` (the sender's), `category`.
    When only the default rule matches, the category's own priority (if any) comes before it."""
    text = f"{email.subject}\n{email.body}".casefold()
    for index, rule in enumerate(policy.priorities):
        if rule.is_default:
            if category is not None and category.priority is not None:
                return category.priority, f"category '{category.name}' priority {category.priority}"
            return rule.priority, f"priorities[{index}]: default {rule.priority}"
        hits = [p for p in rule.when_any if p.casefold() in text]
        if rule.when_any and not hits:
            continue
        if rule.plan is not None and rule.plan != plan:
            continue
        if rule.category is not None and (category is None or rule.category != category.name):
            continue
        conditions = [f"when_any {hits[0]!r}"] if hits else []
        conditions += [f"plan {rule.plan}"] if rule.plan else []
        conditions += [f"category {rule.category}"] if rule.category else []
        return rule.priority, f"priorities[{index}]: {' and '.join(conditions)} → {rule.priority}"
    raise AssertionError("a validated policy always ends with a default rule")  # pragma: no cover


def escalation_reasons(classification: Classification, category: Category | None, policy: Policy) -> list[str]:
    reasons: list[str] = []
    if category is None:
        reasons.append(f"the model chose {classification.category!r}, which is not one of the policy's categories")
    elif category.name in policy.escalate.categories:
        reasons.append(f"category '{category.name}' always goes to a person (policy.escalate.categories)")
    if classification.confidence < policy.escalate.below_confidence:
        reasons.append(
            f"confidence {classification.confidence:.2f} is below the policy's {policy.escalate.below_confidence:.2f}"
        )
    reasons += [f"possible prompt injection or policy bait: {s}" for s in classification.injection_signals]
    return reasons
