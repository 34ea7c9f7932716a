"""The compliance rules checked in code on every draft, whatever the model: the floor, not the ceiling."""

from __future__ import annotations

import re
from collections.abc import Collection

from schemas import CompliancePolicy, DraftingPolicy, Finding

_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_numbers(text: str) -> list[str]:
    """Runs of 13 to 19 digits (spaces or dashes allowed between) that pass the Luhn check."""
    found = []
    for match in _CARD.finditer(text):
        digits = re.sub(r"[ -]", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.append(match.group(0))
    return found


def email_addresses(text: str) -> list[str]:
    return [m.group(0).rstrip(".") for m in _EMAIL.finditer(text)]


def own_addresses(drafting: DraftingPolicy) -> frozenset[str]:
    """The addresses the business itself wrote into its signature and templates: its own, not foreign."""
    return frozenset(
        a.casefold() for text in (drafting.signature, *drafting.templates.values()) for a in email_addresses(text)
    )


def check_draft(
    draft: str, customer_email: str, policy: CompliancePolicy, *, own: Collection[str] = frozenset()
) -> list[Finding]:
    """The rules broken in `draft`; `own`: the business's own addresses (see `own_addresses`), never foreign."""
    findings: list[Finding] = []
    allowed = {customer_email.casefold(), *(a.casefold() for a in own)}
    lowered = draft.casefold()
    for phrase in policy.forbidden_phrases:
        index = lowered.find(phrase.casefold())
        if index >= 0:
            findings.append(
                Finding(
                    rule="forbidden_phrase",
                    detail=f"the policy forbids {phrase!r}",
                    excerpt=draft[index : index + len(phrase)],
                )
            )
    if policy.block_card_numbers:
        for number in card_numbers(draft):
            findings.append(Finding(rule="card_number", detail="a payment card number (passes Luhn)", excerpt=number))
    if policy.block_foreign_emails:
        for address in email_addresses(draft):
            if address.casefold() not in allowed:
                findings.append(
                    Finding(rule="foreign_email", detail="an email address other than the customer's", excerpt=address)
                )
    return findings
