"""Priority and escalation: the tenant's rules, applied in code (the model never sets them)."""

from __future__ import annotations

import re

from schemas import Category, Classification, InboundEmail, Plan, Policy, Priority
from specialists.kit import before_sign_off, own_lines, plain, roots, tokens, unsigned
from specialists.triage._classify import meanings, similarities
from specialists.triage._risk import risk_signals


def priority_for(
    email: InboundEmail, plan: Plan | None, category: Category | None, policy: Policy
) -> tuple[Priority, str]:
    """The first matching rule of `policy.priorities` wins. A rule matches when all its conditions do:
    `when_any` (a phrase in subject or body, case-insensitive), `plan` (the sender's), `category`.
    When only the default rule matches, the category's own priority (if any) comes before it."""
    text = plain(f"{email.subject}\n{email.body}").casefold()
    for index, rule in enumerate(policy.priorities):
        if rule.is_default:
            if category is not None and category.priority is not None:
                return category.priority, f"category '{category.name}' priority {category.priority}"
            return rule.priority, f"priorities[{index}]: default {rule.priority}"
        hits = [p for p in rule.when_any if plain(p).casefold() in text]
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


def reread_for_risk(classification: Classification, email: InboundEmail, policy: Policy) -> Classification:
    """The classification, moved to the escalating category that covers a risk the email reports (an account
    takeover written as a refund question is a security report) unless it already is an escalating one. When it
    reports risks that different categories cover, the one its words read closest to (the first on a tie)."""
    if classification.category in policy.escalate.categories:
        return classification
    signals = risk_signals(email.subject, email.body, policy)
    if not signals:
        return classification
    # two kinds said (a complaint about a wound that opened): the category the email's words read closest to
    scores = similarities(email, policy) if len({s.category.name for s in signals}) > 1 else {}
    signal = max(signals, key=lambda s: scores.get(s.category.name, 0.0))
    rationale = f"re-read as '{signal.category.name}': it reports {signal.kind.name} ({signal.said!r})"
    rationale = f"{rationale}; {classification.rationale}"
    return classification.model_copy(update={"category": signal.category.name, "rationale": rationale})


GUARD_SHARE = 0.80
"""An escalating category whose evidence reaches this share of the chosen category's goes to a person too:
confusing two ordinary categories is a quality problem, a security report that completes is an incident. Lowered
from 0.85 by its cost on the tuning suites alone (outcome −0.003 on their mean; 0.75 cost −0.007, 0.70 −0.018)."""


MEANING_SHARE = 0.4
"""With the embeddings extra: an escalating category that the email's meaning reads closest to of all, and whose
words reach this share of the chosen category's, goes to a person too (two kinds of evidence agreeing). Chosen
on the tuning suites alone: replayed with the risk patterns of before their failures were read, it caught 4 of
the 16 escalations they missed and their outcome rose; over every tuning suite it cost outcome 0.003 (a lower
`GUARD_SHARE` of 0.70 caught 3 of the 16 for 0.015)."""


def escalation_reasons(
    classification: Classification, category: Category | None, policy: Policy, email: InboundEmail
) -> list[str]:
    reasons = [
        f"it reports {s.kind.name} ({s.said!r}), which '{s.category.name}' covers: it always goes to a person"
        for s in risk_signals(email.subject, email.body, policy)
    ]
    if category is None:
        reasons.append(f"the model chose {classification.category!r}, which is not one of the policy's categories")
    elif category.name in policy.escalate.categories:
        reasons.append(f"category '{category.name}' always goes to a person (policy.escalate.categories)")
    else:
        reasons += _close_to_escalating(email, category, policy)
    if classification.confidence < policy.escalate.below_confidence:
        reasons.append(
            f"confidence {classification.confidence:.2f} is below the policy's {policy.escalate.below_confidence:.2f}"
        )
    reasons += [f"possible prompt injection or policy bait: {s}" for s in classification.injection_signals]
    return reasons


def _close_to_escalating(email: InboundEmail, chosen: Category, policy: Policy) -> list[str]:
    """Whatever chose the category (the offline engine or a hosted model), the email is read again against the
    categories the policy always escalates: one that reads nearly as close as the chosen one escalates it, so does
    one its meaning reads closest to of all whose words are not far behind (with the embeddings extra), and so
    does one of its keywords, said as whole words (stemmed, so `refund` is also `refunds`) in the subject
    or the body."""
    if not policy.escalate.categories:
        return []
    scores = similarities(email, policy)
    best = max(scores.get(chosen.name, 0.0), max(scores.values()))
    meant = meanings(email, policy)
    nearest = max(meant, key=lambda n: meant[n]) if meant else None
    # a keyword in the footer is the sender's disclaimer ("may contain personal data"), not what they report
    said = escalating_keywords_said(f"{email.subject}\n{before_sign_off(email.body)}", policy)
    reasons = []
    for name in policy.escalate.categories:
        hits = said.get(name, [])
        if best > 0 and scores.get(name, 0.0) >= GUARD_SHARE * best:
            reasons.append(
                f"it reads close to '{name}' too ({scores[name]:.2f} against {best:.2f}), which always goes to a person"
            )
        elif best > 0 and name == nearest and scores.get(name, 0.0) >= MEANING_SHARE * best:
            reasons.append(
                f"its meaning reads closest to '{name}', and its words close enough ({scores[name]:.2f} against "
                f"{best:.2f}), which always goes to a person"
            )
        elif hits:
            reasons.append(f"it says {hits[0]!r}, a keyword of '{name}', which always goes to a person")
    return reasons


def escalating_keywords_said(text: str, policy: Policy) -> dict[str, list[str]]:
    """The keywords of the policy's escalating categories a text says, by category: as whole words, each word
    matched by its `root` (`refund` is also `refunds`, `abuse` is also `abused`; `hacked` is also `hack`, so a
    riding school's hack says it too)."""
    said = " " + " ".join(roots(text)) + " "
    found = {
        name: [keyword for keyword, written in keywords if written in said]
        for name, keywords in _escalating_keywords(policy)
    }
    return {name: hits for name, hits in found.items() if hits}


_KEYWORDS: dict[int, tuple[Policy, list[tuple[str, list[tuple[str, str]]]]]] = {}


def _escalating_keywords(policy: Policy) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each escalating category's keywords, each with its words as matched (` refund `), once per policy object."""
    kept = _KEYWORDS.get(id(policy))
    if kept is None or kept[0] is not policy:
        found = []
        for name in policy.escalate.categories:
            category = policy.category(name)
            keywords = category.keywords if category else []
            found.append((name, [(k, f" {' '.join(roots(k))} ") for k in keywords if roots(k)]))
        if len(_KEYWORDS) >= 256:
            _KEYWORDS.pop(next(iter(_KEYWORDS)))
        kept = _KEYWORDS[id(policy)] = (policy, found)
    return kept[1]


_POINTS_BACK = re.compile(
    r"""\b(
      again | same\s+(?:problem|issue|thing|error|question|as\s+before)s?
    | as\s+(?:i|we)\s+(?:wrote|said|mentioned|explained)
    | (?:my|our|the)\s+(?:last|previous|earlier|first|other|original)\s+
      (?:e-?mail|mail|message|ticket|request|note|reply)
    | (?:what|everything)\s+(?:i|we)\s+(?:wrote|sent|said)
    | (?:the|my|our)\s+(?:e-?mail|mail|message|letter)\s+(?:i|we)\s+(?:sent|wrote)
    | any\s+(?:updates?|news|progress) | follow(?:ing)?[\s-]?up
    | still\s+(?:waiting(?:\s+to\s+hear(?:\s+back|\s+from\s+you)?)?|nothing|no\s+(?:answer|reply|news|response))
    | (?:haven't|have\s+not|hasn't|has\s+not|not|never)\s+heard\s+(?:back|anything)(?:\s+from\s+you)?
    | check(?:ing)?\s+(?:in\s+)?(?:on|where|whether|if)\s+(?:this|it|that|things)
    | where\s+(?:this|it|that|things)\s+(?:is|are)\s+up\s+to | what(?:'s|\s+is)\s+happening
    | chas(?:e|ing)\s+(?:this|it)(?:\s+up)?
    )\b""",
    re.IGNORECASE | re.VERBOSE,
)
VAGUE_WORDS = 10
"""A follow-up with no more distinct words of its own than this (its quoted lines, the words it points back
with, greetings and stop words left out), none of them a word of the policy's category names or keywords,
says too little to act on."""
_REPLY_SUBJECT = re.compile(r"\s*(?:(?:re|aw|sv|vs|fw|fwd|tr|wg|antw|rif|r)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_COURTESY = frozenset(tokens("hi hello hey dear thanks thank regards best cheers please kind sincerely team support"))


def _says_too_little(email: InboundEmail, policy: Policy) -> re.Match[str] | None:
    """The words pointing back of a follow-up that does not say what is wrong, or None."""
    own = plain(own_lines(f"{email.subject}\n{email.body}"))
    pointer = _POINTS_BACK.search(own)
    if pointer is None:
        return None
    # a reply's subject is the earlier mail's ("Re: invoice"): it names the thread, not what is wrong now
    new = own if not _REPLY_SUBJECT.match(email.subject) else own.split("\n", 1)[-1]
    said = set(tokens(_POINTS_BACK.sub(" ", unsigned(new)))) - _COURTESY
    return None if len(said) > VAGUE_WORDS or said & _terms(policy) else pointer


def vague_follow_up(email: InboundEmail, policy: Policy, open_tickets: list[str], recent: list[str]) -> list[str]:
    """A follow-up that points to earlier mail without saying what is wrong goes to a person, with the
    customer's recent tickets and interactions in the reason (so in the internal note), unless the history
    makes it clear: exactly one open ticket is what it follows up."""
    pointer = _says_too_little(email, policy) if len(open_tickets) != 1 else None
    if pointer is None:
        return []
    seen = "; ".join([*open_tickets, *recent][:5]) or "no earlier tickets or interactions found"
    return [
        f"a follow-up ({pointer.group(0)!r}) that does not say what is wrong; the customer's recent history: {seen}"
    ]


def followed_up(email: InboundEmail, policy: Policy, open_tickets: list[str]) -> str | None:
    """What a follow-up that says too little is about when the customer has exactly one open ticket: that
    ticket's subject (`T-1 [open] Subject`), so the email is classified, and read by the escalation guard, as
    the ticket it follows up."""
    if len(open_tickets) != 1 or _says_too_little(email, policy) is None:
        return None
    return open_tickets[0].split("] ", 1)[-1]


_FUNCTION_WORDS = frozenset(
    tokens(
        "not no nor out off up down over under all any some more most new old one two get got still just now also "
        "very too much many other same own via per yet else ever never always back"
    )
)
"""Words that say nothing of a topic though a keyword may hold them (`not me`, `cut off`)."""


def _terms(policy: Policy) -> frozenset[str]:
    """The words of the policy's category names and keywords that name a topic."""
    named = " ".join(f"{c.name.replace('_', ' ')} {' '.join(c.keywords)}" for c in policy.categories)
    return frozenset(tokens(named)) - _FUNCTION_WORDS
