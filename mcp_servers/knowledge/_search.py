"""Okapi BM25 over a handful of documents, computed afresh for each query.

Each document is one bag of tokens: its title twice (so the title weighs double), its tags and
its body; the document's length counts every token in the bag. For a query term t of a document d:

    idf(t)     = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))          (never negative)
    score(d)  += idf(t) * f(t, d) * (k1 + 1) / (f(t, d) + k1 * (1 - b + b * |d| / avgdl))

with k1 = 1.2 and b = 0.75; each distinct query term counts once. `rank` keeps the documents
that score above zero, divides every score by the top one (so the best hit scores 1.0) and orders
them by score, then id. The tokenizer lower-cases, keeps runs of letters and digits, and drops a
short list of English stop words; there is no stemming. A document's bag of tokens is kept (for
the last few thousand distinct documents) instead of being tokenized again for every query.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

K1 = 1.2
B = 0.75
TITLE_WEIGHT = 2

# fmt: off
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "do", "does", "for", "from", "had",
    "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so",
    "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "was", "we",
    "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
})
# fmt: on

_TOKEN = re.compile(r"[^\W_]+")


def tokenize(text: str) -> list[str]:
    """Lower-case runs of letters and digits, without stop words."""
    return [token for token in _TOKEN.findall(text.casefold()) if token not in STOP_WORDS]


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    title: str
    tags: Sequence[str]
    body: str

    def tokens(self) -> list[str]:
        return tokenize(self.title) * TITLE_WEIGHT + tokenize(" ".join(self.tags)) + tokenize(self.body)

    def bag(self) -> Counter[str]:
        """The counts of `tokens()`, shared between queries: read it, never change it."""
        return _bag(self.title, tuple(self.tags), self.body)


@lru_cache(maxsize=4096)
def _bag(title: str, tags: tuple[str, ...], body: str) -> Counter[str]:
    # keyed by the text itself, so an edited article is a new entry (tokenizing was half of a search's time)
    return Counter(Document("", title, tags, body).tokens())


class Hit(NamedTuple):
    id: str
    score: float


def bm25_scores(query: str, documents: Sequence[Document], *, k1: float = K1, b: float = B) -> dict[str, float]:
    """The raw BM25 score of every document for `query` (0.0 for a document with no query term)."""
    terms = set(tokenize(query))
    bags = [(doc.id, doc.bag()) for doc in documents]
    lengths = [bag.total() for _, bag in bags]
    total = sum(lengths)
    if not terms or total == 0:
        return {doc_id: 0.0 for doc_id, _ in bags}
    n = len(bags)
    avgdl = total / n
    frequency = {t: sum(t in bag for _, bag in bags) for t in terms}
    idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in frequency.items()}
    scores: dict[str, float] = {}
    for (doc_id, bag), length in zip(bags, lengths, strict=True):
        norm = k1 * (1 - b + b * length / avgdl)
        scores[doc_id] = sum(idf[t] * bag[t] * (k1 + 1) / (bag[t] + norm) for t in terms if bag[t])
    return scores


def rank(query: str, documents: Sequence[Document]) -> list[Hit]:
    """The documents that match, best first, with scores normalised to (0, 1]."""
    scores = {doc_id: s for doc_id, s in bm25_scores(query, documents).items() if s > 0}
    if not scores:
        return []
    top = max(scores.values())
    return sorted((Hit(doc_id, s / top) for doc_id, s in scores.items()), key=lambda h: (-h.score, h.id))


def snippet(body: str, limit: int = 200) -> str:
    """The start of `body`, about `limit` characters, cut at a word boundary."""
    text = " ".join(body.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"
