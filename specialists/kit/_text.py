"""Text helpers the offline judgments share: tokens, light stemming, and injection signals."""

from __future__ import annotations

import re

# fmt: off
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "do", "does", "did",
    "for", "from", "had", "has", "have", "hello", "hi", "how", "i", "if", "in", "into", "is", "it", "its",
    "me", "my", "of", "on", "or", "our", "please", "so", "than", "thanks", "thank", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "those", "to", "us", "was", "we", "were", "what",
    "when", "where", "which", "who", "why", "will", "with", "would", "you", "your", "yours", "regards",
    "best", "dear", "team",
})
# fmt: on
_TOKEN = re.compile(r"[^\W_]+")
_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "ly", "s")


def stem(word: str) -> str:
    """A light suffix stripper: `charged`, `charges`, `charging` → `charg`. Good enough for matching."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> list[str]:
    """Lower-case stemmed word tokens without stop words."""
    return [stem(t) for t in _TOKEN.findall(text.casefold()) if t not in STOP_WORDS and len(t) > 1]


_INJECTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern, re.IGNORECASE))
    for label, pattern in (
        (
            "instruction override",
            r"\b(ignore|disregard|forget)\b[^.\n]{0,40}\b(previous|prior|above|earlier|all|your)\b"
            r"[^.\n]{0,20}\b(instructions?|rules|prompts?|guidelines|policy|policies)\b",
        ),
        ("role play", r"\byou are (now )?(in )?(developer|dev|admin|god|jailbreak|unrestricted|dan)\b( mode)?"),
        ("system prompt", r"\b(system prompt|your instructions|reveal your (prompt|rules))\b"),
        ("act as", r"\b(act|pretend|behave) as (if you were |an? )?(admin|administrator|system|root|developer)\b"),
        (
            "other customers' data",
            r"\b(all|every|other|list of|export)\b[^.\n]{0,30}\b(customers?|users?|accounts?|clients?)\b"
            r"[^.\n]{0,40}\b(emails?|e-mail|addresses|phone|numbers|names|data|details|records)\b",
        ),
        ("other customers' data", r"\b(phone number|email address|home address|contact details) of\b[^.\n]{0,40}"),
        (
            "other customers' data",
            r"\b(e-?mails?|(e-?mail )?addresses|phone numbers|names|data|details|records|list)\b"
            r"[^.\n]{0,30}\bof (the )?(all|every|other|your)\b[^.\n]{0,20}\b(customers?|users?|clients?|accounts?)\b",
        ),
        (
            "other customers' data",
            r"\b(phone numbers?|(delivery |home |email )?address(es)?|e-?mail|recovery codes?|passwords?|log-?in|"
            r"details)\b[^.\n]{0,40}\bon (his|her|their|someone else's) account\b",
        ),
        (
            "verification bypass",
            r"\b(skip|bypass|without|ignore)\b[^.\n]{0,30}\b(identity )?"
            r"(verification|security checks?|identity checks?)\b",
        ),
        (
            "instruction override",
            r"\b(note|message|instructions?) (to|for) (the )?(ai|assistant|bot|model|system|agent)\b",
        ),
        ("instruction override", r"\byou are (now )?(authori[sz]ed|permitted|allowed|cleared) to\b"),
        (
            "instruction override",
            r"\b(do not|don't|should not|shouldn't|must not)\b[^.\n]{0,10}\b(forward|escalate|send|pass)\b"
            r"[^.\n]{0,25}\bto (a |any )?(human|person|people|staff)\b",
        ),
        (
            "credit demand",
            r"\b(issue|give|grant|apply|credit|refund|approve)\b[^.\n]{0,30}\b(me|my account|us)?"
            r"[^.\n]{0,20}(\$|€|£|usd|eur)\s?\d[\d,.]*[^.\n]{0,60}\b(now|immediately|right away|"
            r"automatically|must|without (any )?(approval|review|checks?))\b",
        ),
        (
            "credit demand",
            r"\b(system|you|agent|bot|ai)\b[^.\n]{0,20}\b(must|will|shall|has to)\b[^.\n]{0,20}"
            r"\b(approve|issue|grant|refund|credit)\b",
        ),
    )
)


def injection_signals(text: str) -> list[str]:
    """Phrases in customer text that try to instruct the system or obtain what it must not give."""
    found: list[str] = []
    for label, pattern in _INJECTION_PATTERNS:
        match = pattern.search(text)
        if match:
            found.append(f"{label}: {match.group(0).strip()[:80]!r}")
    return found
