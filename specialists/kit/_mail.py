"""The parts of an email a reader tells apart: the customer's own lines, quotes of earlier mail, the signature."""

from __future__ import annotations

import re

_SIGN_OFF = re.compile(
    r"^\s*(--\s*$|(kind\s+|best\s+|warm\s+|warmest\s+|many\s+)?regards|thanks|thank\s+you|many\s+thanks|"
    r"with\s+thanks|cheers|best(\s+wishes)?|sincerely|yours\s+(sincerely|faithfully|truly))\b",
    re.IGNORECASE,
)
_FORWARDED = re.compile(r"^\s*-{2,}\s*(forwarded|original)\s+message\s*-{2,}\s*$", re.IGNORECASE)


def own_lines(text: str) -> str:
    """The text without the lines quoted from earlier mail (`>`)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))


def unsigned(text: str) -> str:
    """The text without its signature: from the last short sign-off line (`Kind regards,`, `--`) on, or a last
    paragraph of at most three short lines with no question in it (a name, a role, a company). A forwarded
    message keeps its own text: only what comes before the first one is cut."""
    forwarded = next((i for i, line in enumerate(text.splitlines()) if _FORWARDED.match(line)), None)
    lines = text.rstrip().splitlines()
    head, tail = (lines, []) if forwarded is None else (lines[:forwarded], lines[forwarded:])
    for index in range(len(head) - 1, 0, -1):
        if _SIGN_OFF.match(head[index]) and len(head[index].split()) <= 4:
            head = head[:index]
            break
    paragraphs = "\n".join(head).rstrip().split("\n\n")
    last = paragraphs[-1].strip().splitlines()
    if len(paragraphs) > 1 and len(last) <= 3 and all(len(line.split()) <= 5 and "?" not in line for line in last):
        paragraphs = paragraphs[:-1]
    return "\n\n".join(paragraphs) + ("\n\n" + "\n".join(tail) if tail else "")
