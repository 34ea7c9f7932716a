"""A draft made whole, whatever the template or the model wrote: it greets the customer, answers, and
ends with the tenant's signature exactly once.

`render` fills a tenant's template (any of {customer_name}, {answer} and {signature}, or none) and
puts the answer in when the template has no place for it; `make_whole` then checks any draft, the
offline one or a model's, and adds what is missing: a greeting, the answer, the signature (repeated
signatures removed). General rules only: nothing here knows a tenant.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

_GREETING = re.compile(
    r"^\W*(hi|hello|hey|hiya|howdy|dear|greetings|good (morning|afternoon|evening|day)|"
    r"hallo|hola|bonjour|salut|ciao|buongiorno|buenos d[ií]as|ol[aá]|hej|moin|guten (tag|morgen|abend)|"
    r"sehr geehrte[rs]?|liebe[rs]?|estimad[oa]s?|cher|ch[eè]re)\b",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\{(customer_name|answer|signature)\}")
_WORD = re.compile(r"\w")


def starts_with_greeting(text: str) -> bool:
    """Whether the text's first line opens with a greeting (`Hi`, `Dear`, `Good morning`, a few languages)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return bool(_GREETING.match(first))


def greeting(name: str | None) -> str:
    """The greeting a draft gets when it has none: by name when the customer is known, else a neutral one."""
    return f"Hi {name}," if name else "Hello,"


def placeholders(template: str) -> frozenset[str]:
    """The placeholders a template uses (the tenant file's loader has checked they are known ones)."""
    return frozenset(f for _, f, _, _ in string.Formatter().parse(template) if f)


def _is_sign_off(line: str) -> bool:
    """A short closing line such as `Best regards,` or `Cheers,` that belongs with the signature under it."""
    words = line.split()
    return 0 < len(words) <= 4 and line.rstrip().endswith(",") and not _GREETING.match(line)


def _unknown_name(line: str) -> str:
    """A template line holding {customer_name} when the customer is not known: a greeting becomes a neutral
    one, any other line loses the placeholder."""
    without = _PLACEHOLDER.sub(lambda m: "" if m.group(1) == "customer_name" else m.group(0), line)
    without = re.sub(r"\s+([,.!?;:])", r"\1", re.sub(r"[ \t]{2,}", " ", without)).rstrip()
    if _GREETING.match(without) and not _WORD.search(_GREETING.sub("", without)):
        indent = line[: len(line) - len(line.lstrip())]
        return indent + greeting(None)
    return without


def render(template: str, *, name: str | None, answer: str, signature: str) -> str:
    """The template filled; a template without {answer} gets the answer after its text, before its closing
    (the line ending in {signature} or the signature's text, with a sign-off line above it)."""
    used = placeholders(template)
    if not name and "customer_name" in used:
        template = _without_name(template)
    if "answer" not in used:
        lines = template.rstrip().splitlines()
        closing = _closing_start(lines, signature)
        template = "\n".join([*lines[:closing], "", "{answer}", "", *lines[closing:]])
    return _tidy(template.format(customer_name=name or "", answer=answer, signature=signature))


def _without_name(text: str) -> str:
    return "\n".join(_unknown_name(line) if "{customer_name}" in line else line for line in text.splitlines())


def _closing_start(lines: list[str], signature: str) -> int:
    """Where a template's closing starts: at the line ending in {signature} (or in the signature's own
    first line), or the sign-off above it; the end when there is none."""
    own = _collapse(next(iter(signature.strip().splitlines()), ""))
    for index, line in enumerate(lines):
        if line.rstrip().endswith("{signature}") or (own and _collapse(line).endswith(own)):
            return index - 1 if index and _is_sign_off(lines[index - 1]) else index
    return len(lines)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _tidy(text: str) -> str:
    """Trailing spaces and runs of blank lines removed, outer blank lines stripped."""
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@dataclass(frozen=True)
class Whole:
    body: str
    fixes: tuple[str, ...]
    """What was added or removed, in words (empty when the draft was whole already)."""
    answered: bool
    """Whether `answer` was put in because the draft had none."""


def _signature_runs(lines: list[str], signature: str) -> list[tuple[int, int]]:
    """The [start, end) line ranges that hold the signature alone (a multi-line signature on its lines)."""
    wanted = [line.strip() for line in signature.splitlines() if line.strip()]
    runs: list[tuple[int, int]] = []
    index = 0
    while wanted and index + len(wanted) <= len(lines):
        if [line.strip() for line in lines[index : index + len(wanted)]] == wanted:
            runs.append((index, index + len(wanted)))
            index += len(wanted)
        else:
            index += 1
    return runs


def _greets(line: str, name: str | None) -> bool:
    """Whether a first line greets the customer: a greeting word, or their name."""
    return bool(_GREETING.match(line) or (name and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", line, re.I)))


_ADDRESSEE = re.compile(r"^\s*((?:[^\W\d]+[ .'-]*){0,3}?)\s*([,!:.]?)\s*$")


_ADDRESSED = re.compile(
    r"^\s*((?:(?!(?:and|thanks?|thank|you|for|to|we|our|from|with|it|is|this)\b)[^\W\d]+[ .'-]*){0,3}?)\s*([,!:])(.*)$",
    re.IGNORECASE,
)


def _by_name(line: str, name: str) -> str:
    """A greeting that does not name the known customer addressed to them: `Hello,`, `Dear guest,`, `Hi there!`
    become `Hello Maya,` ...; one with more to say keeps it (`Dear guest, thanks for writing.` becomes `Dear Maya,
    thanks for writing.`, `Hello and thank you for writing.` becomes `Hello Maya, and thank you for writing.`);
    one that names them stays as it was."""
    greeted = _GREETING.match(line)
    if greeted is None or re.search(rf"(?<!\w){re.escape(name)}(?!\w)", line, re.I):
        return line
    head, after = line[: greeted.end()], line[greeted.end() :]
    if alone := _ADDRESSEE.match(after):
        return f"{head} {name}{alone.group(2) or ','}"
    if addressed := _ADDRESSED.match(after):
        return f"{head} {name}{addressed.group(2)}{addressed.group(3)}"
    after = re.sub(r"^\s*(?:there|all|everyone|everybody|folks|friends?|guests?|customers?)\b", "", after, flags=re.I)
    return f"{head} {name}, {after.lstrip()}"


def _says_something(line: str) -> bool:
    """Whether a line says more than a greeting (`Hi Priya, we refunded the charge.` does; `Hi Priya,` not)."""
    if not _GREETING.match(line):
        return bool(_WORD.search(line))
    _, mark, rest = line.partition(",") if "," in line else line.partition("!")
    return bool(mark and _WORD.search(rest))


def make_whole(body: str, *, name: str | None, signature: str, answer: str) -> Whole:
    """`body` with a greeting at the start (when its first line neither greets nor names the customer), an
    answer (`answer`, when there is nothing but a greeting and a closing), and `signature` exactly once, at
    the end (repeats on lines of their own removed). Placeholders left in the text are filled."""
    fixes: list[str] = []
    answered = False
    signature = signature.strip()
    if _PLACEHOLDER.search(body):
        answered = "{answer}" in body
        body = _without_name(body) if not name else body
        replace = {"customer_name": name or "", "answer": answer, "signature": signature}
        body = _PLACEHOLDER.sub(lambda m: replace[m.group(1)], body)
        fixes.append("filled the placeholders left in the text")
    lines = _tidy(body).splitlines()

    # the closing: the last signature, when it ends the text, with the sign-off above it
    runs = _signature_runs(lines, signature)
    closing: list[str] = []
    said_in_closing = False
    if runs and not any(line.strip() for line in lines[runs[-1][1] :]):
        start, end = runs.pop()
        start = start - 1 if start and _is_sign_off(lines[start - 1]) else start
        closing, lines = lines[start:end], lines[:start]
    elif signature and lines and _collapse(lines[-1]).endswith(_collapse(signature)):
        closing, lines = [lines[-1]], lines[:-1]  # signed on the closing line itself ("Thanks, The Team")
        before = _collapse(closing[0])[: -len(_collapse(signature))]
        said_in_closing = not _is_sign_off(before) and bool(_WORD.search(before))
    for start, end in reversed(runs):  # the signature anywhere else is a repeat
        del lines[start - 1 if start and _is_sign_off(lines[start - 1]) else start : end]
    if runs:
        fixes.append(f"removed {len(runs)} repeated signature{'s' if len(runs) > 1 else ''}")
    if not closing:
        if lines and _is_sign_off(lines[-1]):
            closing, lines = [lines[-1]], lines[:-1]
        closing.extend(signature.splitlines())
        fixes.append("added the signature")

    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not _greets(lines[first], name):
        lines = [greeting(name), "", *lines]
        fixes.append("added a greeting")
    said = [line for line in lines if line.strip()]
    # what the text says, read before the greeting names the customer ("Hello and thank you." greets, no more)
    says = said_in_closing or _says_something(said[0]) or any(_WORD.search(line) for line in said[1:])
    if first is not None and name and (addressed := _by_name(lines[first], name)) != lines[first]:
        lines[first] = addressed
        fixes.append("greeted the customer by name")
    if not says:
        lines = [*lines, "", answer]
        answered = True
        fixes.append("added the answer")
    return Whole(
        body=_tidy(_tidy("\n".join(lines)) + "\n\n" + "\n".join(closing)), fixes=tuple(fixes), answered=answered
    )
