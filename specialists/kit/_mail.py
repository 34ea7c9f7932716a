"""The parts of an email a reader tells apart: the customer's own lines, quotes of earlier mail, the signature."""

from __future__ import annotations

import re

from specialists.kit._text import plain, stem, words

_SIGN_OFF = re.compile(
    r"^\s*(--\s*$|(with\s+)?(kind\s+|best\s+|warm\s+|warmest\s+|many\s+)?regards|thanks|thank\s+you|many\s+thanks|"
    r"with\s+thanks|cheers|best(\s+wishes)?|sincerely|yours\s+(sincerely|faithfully|truly)|"
    # the same in a few other languages customers write in
    r"(mit\s+)?(freundlichen|besten|vielen|viele|liebe|herzliche)\s+gr(ü|ue)(ß|ss)(e|en)|cordialement|bien\s+(à|a)\s+vous|"
    r"(un\s+)?saludos?(\s+cordiales)?|(muchas\s+)?gracias|merci(\s+beaucoup)?|danke(\s+sch(ö|oe)n)?|grazie(\s+mille)?|"
    r"atentamente|cordiali\s+saluti|distinti\s+saluti|obrigad[oa]|atenciosamente|"
    r"(met\s+)?(vriendelijke\s+)?groet(en)?|pozdrawiam|z\s+powa(ż|z)aniem|(med\s+)?v(ä|a)nliga?\s+h(ä|a)lsningar?|mvh)\b",
    re.IGNORECASE,
)
_FORWARDED = re.compile(r"^\s*-{2,}\s*(forwarded|original)\s+message\s*-{2,}\s*$", re.IGNORECASE)


def own_lines(text: str) -> str:
    """The text without the lines quoted from earlier mail (`>`)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))


def _before_last_sign_off(lines: list[str]) -> list[str] | None:
    """The lines before the last short sign-off line (`Kind regards,`, `--`; not the first line), or None."""
    for index in range(len(lines) - 1, 0, -1):
        if _SIGN_OFF.match(lines[index]) and len(lines[index].split()) <= 4:
            return lines[:index]
    return None


def _signed_off(text: str) -> tuple[list[str], list[str]]:
    """The lines before the last short sign-off line, and a forwarded message's lines up to its own last sign-off
    (what the customer forwards is what they ask about; its sender's footer and disclaimer are not)."""
    forwarded = next((i for i, line in enumerate(text.splitlines()) if _FORWARDED.match(line)), None)
    lines = text.rstrip().splitlines()
    head, tail = (lines, []) if forwarded is None else (lines[:forwarded], lines[forwarded:])
    tail = _before_last_sign_off(tail) or tail
    return _before_last_sign_off(head) or head, tail


def before_sign_off(text: str) -> str:
    """The text without its sign-off line and what follows it (a name, a role, a footer or a disclaimer); a
    forwarded message keeps its own text. Unlike `unsigned`, a text with no sign-off is kept whole: its short
    last paragraph may be the very report ("Someone hacked my account.")."""
    head, tail = _signed_off(text)
    return "\n".join([*head, *tail])


def unsigned(text: str) -> str:
    """The text without its signature: from the last short sign-off line (`Kind regards,`, `--`) on, or a last
    paragraph of at most three short lines with no question in it (a name, a role, a company). A forwarded
    message keeps its own text: only what comes before the first one is cut."""
    head, tail = _signed_off(text)
    paragraphs = "\n".join(head).rstrip().split("\n\n")
    last = paragraphs[-1].strip().splitlines()
    if len(paragraphs) > 1 and len(last) <= 3 and all(len(line.split()) <= 5 and "?" not in line for line in last):
        paragraphs = paragraphs[:-1]
    return "\n\n".join(paragraphs) + ("\n\n" + "\n".join(tail) if tail else "")


_SENTENCE = re.compile(r"(?:[^.!?\n\u2013\u2014-]|(?<=\S)-(?=\S))+[.!?]*")  # a sentence, or a clause a spaced dash ends
# "sorry for the subject", "ignore the subject line", "the subject is wrong", "the form made me pick a subject"
# (not a forwarded message's own `Subject:` header, nor "subject to", a subject access request or a data subject)
_SUBJECT = re.compile(r"(?<!data\s)\bsubject\b(?!\s*(?::|to\b|access))", re.IGNORECASE)
_SUBJECT_IS_WRONG = re.compile(
    r"\b(?:wrong|confus\w*|mislead\w*|ignore|sorry|old|pick|chose|choose|made\s+me)\b", re.IGNORECASE
)
# "not actually about an invoice", "nothing to do with the invoice", "no damage actually", "not really a complaint"
_A = r"(?:the\s+|an?\s+|my\s+|our\s+|your\s+|any\s+)?"
_TOPIC_DISOWNED = re.compile(
    rf"\b(?:not|isn't|is\s+not|wasn't|was\s+not)\s+(?:actually\s+|really\s+)?about\s+{_A}([^\W\d_]+)|"
    rf"\bnothing\s+to\s+do\s+with\s+{_A}([^\W\d_]+)|"
    rf"\b(?:no|not)\s+{_A}([^\W\d_]+)\s+actually\b|\bnot\s+(?:really|actually)\s+{_A}([^\W\d_]+)",
    re.IGNORECASE,
)


def disowned_subject(subject: str, body: str) -> str | None:
    """The body without the sentences that say its subject is not what it is about ("sorry, wrong subject line,
    it's not about the invoice at all"), when it has any; None when the body leaves the subject standing. People
    reply to an old email or pick the first subject a form offers: the subject then misleads, and the sentence
    that says so names the very topic it is not about."""
    subject_stems = set(words(subject))
    body = plain(body)
    disowning = []
    for match in _SENTENCE.finditer(body):
        sentence = match.group(0)
        if _SUBJECT.search(sentence) and _SUBJECT_IS_WRONG.search(sentence):  # two scans: linear in any text
            disowning.append(match.span())
            continue
        for topic in _TOPIC_DISOWNED.finditer(sentence):
            word = next(group for group in topic.groups() if group)
            if stem(word.casefold()) in subject_stems:
                disowning.append(match.span())
                break
    if not disowning:
        return None
    kept, start = [], 0
    for begin, end in disowning:
        kept.append(body[start:begin])
        start = end
    kept.append(body[start:])
    return "".join(kept)
