"""What routing decides after a hop (`Decision`), and the writes an email asks for (`plan_actions`).

The routing itself is data: a workflow (coordinator/workflow), executed by `coordinator.workflow.route`; the
model never picks the next agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel

from schemas import (
    ProposedAction,
    RunStatus,
    TriageResult,
)
from specialists.kit import reveal


@dataclass(frozen=True)
class Decision:
    recipient: str | None
    """The next specialist, or None when the run ends here."""
    payload: BaseModel | None = None
    run_status: RunStatus = "running"
    reason: str = ""
    approvals: list[ProposedAction] = field(default_factory=list)
    loops: dict[str, int] | None = None
    """How often each limited edge has been taken, when this hop took one (kept in the run's results)."""
    revision: int | None = None
    """How many limited edges the run has taken, this one included (`run.revision`), when this hop took one."""


_CURRENCY = (
    r"[$€£¥₹]|\b(?:usd|eur|gbp|chf|cad|aud|nzd|sek|nok|dkk|pln|czk|huf|jpy|inr|zar|sgd|hkd|mxn|brl|"
    r"dollars?|euros?|pounds?|quid|kr|zł)\b"
)
_NUMBER = r"\d{1,3}(?:[,.\u00a0 ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?:{_CURRENCY})\s?(?P<before>{_NUMBER})(?!\d)|(?<![\d.,])(?P<after>{_NUMBER})\s?(?:{_CURRENCY})", re.IGNORECASE
)
"""A sum of money: a currency sign, code or word before or after the number (`€55`, `38.60 EUR`, `12,50 €`)."""
_BARE_AMOUNT = re.compile(
    r"(?<![\d.,:/-])(?P<before>\d{1,6}[.,]\d{2})(?![\d]|[.,:/-]\d)"
    r"(?!\s?(?:[ap]\.?m\b|h\b|hrs?\b|hours?\b|mins?\b|minutes?\b|o'clock|kg\b|km\b|miles?\b|%))",
    re.IGNORECASE,
)
"""A number with two decimals and no currency (`refund the extra 1.50`): read as money when nothing else is; not
a time (`until 7.25pm`), a weight, a distance or a share."""
_WITHIN = r"(?:[^.\n]|(?<=\d)\.(?=\d))"
"""A character of the same sentence: anything but a full stop or a line break, or the point of a sum (`£8.99`)."""
_CREDIT_WORDS = re.compile(
    rf"\b(refund|credit|reimburs|compensat|money back|pay\b{_WITHIN}{{0,40}}\bback|give (?:me |us )?(?:the |my |our )?"
    rf"(?:money )?back|(?:charged|taken|debited|billed) (?:me |us )?twice|double[- ]charg|overcharg|"
    rf"(?:put|send)\b{_WITHIN}{{0,30}}?(?:(?:money|cash|deposit|fees?|payments?|charges?|amount|sum)\b{_WITHIN}{{0,30}}?|"
    rf"[$€£]\s?\d+(?:[.,]\d+)?\s+)\bback\b|"
    rf"(?:want|like|need|get|have)\b(?={_WITHIN}{{0,30}}\bback\b){_WITHIN}{{0,30}}?(?:money|cash|deposit|fees?|payments?|"
    rf"charges?|costs?|amount|sum|it|them|that|this|[$€£]|\d){_WITHIN}{{0,30}}?\bback\b|(?:add|put)\b{_WITHIN}{{0,30}}\b"
    rf"(?:to|on|into) (?:my|our) (?:account|balance|bill))",
    re.IGNORECASE,
)


def _cents(number: str) -> int:
    """`1,234.56`, `1.234,56`, `1 234,56`, `38,60` and `38.60` as cents: a last separator followed by one or two
    digits is the decimal one; any other separates thousands."""
    last = max(number.rfind("."), number.rfind(","))
    whole, fraction = (number[:last], number[last + 1 :]) if last >= 0 and len(number) - last - 1 <= 2 else (number, "")
    return int(re.sub(r"\D", "", whole) or "0") * 100 + int(fraction.ljust(2, "0"))


def plan_actions(triage: TriageResult) -> list[ProposedAction]:
    """Writes beyond the standard ones that the email asks for: today, a credit for a stated amount.
    They always need a person's approval when the policy lists the tool. Only the text a reader of the
    email sees counts, and only the customer's own lines: an amount in a comment, an invisible element or a
    quoted earlier message (`>`) is never proposed."""
    text, _ = reveal(f"{triage.email.subject}\n{triage.email.body}")
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))
    if triage.customer is None or triage.escalate or not _CREDIT_WORDS.search(text):
        return []
    amounts = list(_AMOUNT.finditer(text)) or list(_BARE_AMOUNT.finditer(text))
    if not amounts:
        return []
    # The amount asked for is the one nearest a refund or credit word, not an order total elsewhere.
    anchors = [m.start() for m in _CREDIT_WORDS.finditer(text)]
    match = min(amounts, key=lambda m: min(abs(m.start() - a) for a in anchors))
    cents = _cents(match.group("before") or match.group("after"))
    if cents <= 0:
        return []
    return [
        ProposedAction(
            tool="crm.issue_credit",
            arguments={
                "account_id": triage.customer.account_id,
                "amount_cents": cents,
                "reason": f"requested in '{triage.email.subject[:120]}'",
            },
            reason=f"the customer asks for a credit of {match.group(0)}",
        )
    ]
