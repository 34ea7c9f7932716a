"""The parts of an email a reader tells apart: the customer's own lines, quotes of earlier mail, the signature."""

from __future__ import annotations

import re

from specialists.kit._text import plain, stem, tokens, words

_SIGN_OFF = re.compile(
    r"^\s*(--\s*$|(with\s+)?(kind\s+|best\s+|warm\s+|warmest\s+|many\s+)?regards|thanks|thank\s+you|many\s+thanks|"
    r"with\s+thanks|cheers|best(\s+wishes)?|sincerely|yours\s+(sincerely|faithfully|truly)|"
    # the same in a few other languages customers write in
    r"(mit\s+)?(freundlichen|besten|vielen|viele|liebe|herzliche)\s+gr(ü|ue)(ß|ss)(e|en)|cordialement|bien\s+(à|a)\s+vous|"
    r"(un\s+)?saludos?(\s+cordiales)?|(muchas\s+)?gracias|merci(\s+beaucoup)?|danke(\s+sch(ö|oe)n)?|grazie(\s+mille)?|"
    r"atentamente|cordiali\s+saluti|distinti\s+saluti|obrigad[oa]|atenciosamente|"
    r"(met\s+)?(vriendelijke\s+)?groet(en)?|pozdrawiam|z\s+powa(ż|z)aniem|(med\s+)?v(ä|a)nliga?\s+h(ä|a)lsningar?|mvh)\b"
    # short or everyday ones that open ordinary sentences too ("Take care of it", "Love the app"): the line holds
    # the sign-off alone, or with a name after a comma
    r"|^\s*(ta(\s+very\s+much)?|thx|tia|thanks\s+(in\s+advance|again|so\s+much)|all\s+the\s+best|take\s+care|"
    r"speak\s+soon|(lots\s+of\s+|all\s+my\s+)?love|diolch(\s+yn\s+fawr)?|hwyl(\s+fawr)?|ciao|tsch(ü|ue)ss|lg|mfg|bises|"
    r"amiti(é|e)s|groetjes|(med\s+)?(venn?lig(\s+hilsen|e\s+hilsener)|hilsen)|(ystävällisin\s+)?terveisin|s\s+pozdravem|"
    r"saygılarımla|с\s+уважением|(un\s+)?abrazos?|un\s+saludo)[\s,.!]*(,\s*[^\W\d_]+[.!]?\s*)?$",
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


# what the customer says they are not writing about, whatever the subject: "I'm not asking for a refund", "I don't
# actually want to cancel", "I don't want to make a complaint", "the miles aren't what I'm writing about"
_WRITING = r"(?:writing|asking|emailing|e-mailing|contacting\s+you|getting\s+in\s+touch|complaining|chasing)"
_NOT_ASKING = re.compile(
    rf"\b(?:i'?m|i\s+am|we'?re|we\s+are)\s+not\s+(?:actually\s+|really\s+)?{_WRITING}\s+(?:for|about|to)\b|"
    r"\b(?:don'?t|do\s+not)\s+actually\s+want\b|"
    r"\b(?:don'?t|do\s+not)\s+want\s+to\s+(?:make|raise|file|lodge|log|put\s+in|submit|open)\s+an?\b|"
    r"\bnot\s+(?:really\s+|actually\s+)?an?\s+(?:formal\s+|official\s+)?complaint\b|"
    rf"\b(?:isn't|aren't|is\s+not|are\s+not|wasn't|weren't)\s+(?:really\s+|actually\s+)?(?:what|why)\s+"
    rf"(?:i'?m|i\s+am|we'?re|we\s+are|i\s+was)\s+{_WRITING}",
    re.IGNORECASE,
)
# of `_TOPIC_DISOWNED`, the forms that disown a topic wherever they stand ("it's not really working" is a fault)
_NOT_ABOUT = re.compile(
    rf"\b(?:not|isn't|is\s+not|wasn't|was\s+not)\s+(?:actually\s+|really\s+)?about\s+{_A}[^\W\d_]+|"
    rf"\bnothing\s+to\s+do\s+with\s+{_A}[^\W\d_]+",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[^,;:]+?(?=\s+but\s|[,;:]|$)|\s+but\s", re.IGNORECASE)


def _disowning_clauses(sentence: str) -> list[tuple[int, int]]:
    """The spans of a sentence's clauses that say what the email is not about (`_NOT_ASKING`, `_NOT_ABOUT`)."""
    return [
        match.span()
        for match in _CLAUSE.finditer(sentence)
        if _NOT_ASKING.search(match.group(0)) or _NOT_ABOUT.search(match.group(0))
    ]


def without_disowned(body: str) -> str:
    """The body without the clauses in which the customer says what they are not writing about ("I don't want to
    make a complaint, the engineer left mud on the carpet"; "not a refund - can I move the date?"): the topic
    they name is the one thing the email is not about. The rest is kept as written; a body with no such clause is
    returned as it is."""
    spans = []
    for sentence in _SENTENCE.finditer(body):
        begin = sentence.start()
        spans += [(begin + start, begin + end) for start, end in _disowning_clauses(sentence.group(0))]
    return _cut(body, spans) if spans else body


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """The text without the spans (in order, not overlapping)."""
    kept, start = [], 0
    for begin, end in spans:
        kept.append(text[start:begin])
        start = end
    kept.append(text[start:])
    return "".join(kept)


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
        else:  # "No, I don't actually want to cancel" under "Cancel my membership??": that clause goes
            for start, end in _disowning_clauses(sentence):
                clause = sentence[start:end]
                said = set(tokens(_NOT_ASKING.sub(" ", clause)))
                if _NOT_ASKING.search(clause) and said & set(tokens(subject)):
                    disowning.append((match.start() + start, match.start() + end))
    return _cut(body, disowning) if disowning else None
