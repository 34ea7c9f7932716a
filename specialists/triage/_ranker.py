"""How the offline classifier weighs its evidence: a small linear model over general features of an email and a
category, its weights fit on the tuning suites and never on a held-out one.

Each feature says how close the email reads to one category by one kind of evidence: the TF-IDF similarity of the
words (with their concepts, and the concepts alone), of the subject alone and of the body alone; to the
description alone and to the nearest single example; character 3-5-grams (a misspelt or inflected word still
shares most of them); BM25; how many of the email's words are the category's keywords or its name; and, with the
embeddings extra, the cosine of the email's meaning with the category's, its name's and its description's, and of
the subject's meaning with the category's. A feature is read relative to the other categories of the same
policy: its gap to the best category's value, and that gap over the feature's spread across the categories, so
that a policy of twelve short categories and one of four long ones read alike. The category's score is the
weighted sum of those gaps; the choice is the highest score and the confidence its softmax, a conditional logit
fit by log-loss and so calibrated as fit: on the tuning suites' left-out folds its mean confidence equalled its
accuracy.

The weights are numbers over kinds of evidence, never a word of any business. `scripts/fit-ranker` fits them
again on the tuning suites (five folds of whole suites left out in turn print the accuracy to expect on unseen
businesses) and prints the two tuples below. It leaves out the emails whose risk words decide the category anyway
(`_risk`): the model learns to tell ordinary categories apart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

from schemas import Category
from specialists.kit import STOP_WORDS, tokens
from specialists.triage._concepts import concept_tokens

Vector = dict[str, float]

LEXICAL = (
    "words",
    "concepts",
    "concepts_only",
    "description",
    "nearest_example",
    "subject",
    "body",
    "char_grams",
    "bm25",
    "keyword_hits",
    "name_hits",
)
"""The features of the words, read with or without the embeddings extra."""
MEANING = ("meaning", "meaning_name", "meaning_description", "meaning_subject")
"""The features of the embeddings extra."""

# fmt: off
SPREAD_FLOORS: tuple[float, ...] = (
    0.0207, 0.0218, 0.0458, 0.0167, 0.0274,
    0.0159, 0.0181, 0.0176, 0.8405, 0.1712,
    0.0786, 0.0279, 0.0259, 0.0252, 0.0229,
)
"""Per feature of `LEXICAL` then `MEANING`, a quarter of its median spread across a policy's categories over the
tuning suites' emails (fit by scripts/fit-ranker)."""
LEXICAL_WEIGHTS: tuple[float, ...] = (
    -0.195, -1.064,
    0.146, 1.732,
    0.336, 0.083,
    -0.101, -0.001,
    1.034, 0.246,
    -0.222, 0.164,
    -0.016, -0.127,
    0.037, 0.665,
    0.375, -0.715,
    -0.175, 0.449,
    -0.403, 0.209,
)
"""Per feature of `LEXICAL`, the weight of its gap then of its scaled gap (fit by scripts/fit-ranker)."""
MEANING_WEIGHTS: tuple[float, ...] = (
    -0.101, -0.861,
    0.151, 1.450,
    0.182, 0.071,
    -0.202, -0.079,
    1.062, 0.107,
    -0.259, 0.166,
    -0.001, -0.334,
    0.007, 0.252,
    0.376, -0.435,
    -0.219, 0.342,
    -0.543, 0.123,
    0.474, 0.883,
    0.086, 0.306,
    0.276, 0.148,
    -0.369, -0.005,
)
"""Per feature of `LEXICAL` then `MEANING`, the weight of its gap then of its scaled gap (fit by scripts/fit-ranker)."""
# fmt: on

_WORD = re.compile(r"[^\W_]+")
_K1, _B = 1.2, 0.75
"""BM25's usual constants."""


def grams(text: str) -> Counter[str]:
    """The character 3-, 4- and 5-grams of each word but the stop words, with its edges (` refund ` → ` re`, `ref`,
    ...)."""
    out: Counter[str] = Counter()
    for word in _WORD.findall(text.casefold()):
        if word in STOP_WORDS or len(word) < 2:
            continue
        padded = f" {word} "
        for n in (3, 4, 5):
            out.update(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


def cosine(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(weight * b.get(term, 0.0) for term, weight in a.items())


def _unit(weights: Vector) -> Vector:
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {t: w / norm for t, w in weights.items()}


class Evidence:
    """The categories' side of the lexical features, built once per policy. `weigh` is the classifier's TF-IDF
    (its IDF over the categories' profiles): a text's word counts, and concept counts when given, to a unit vector."""

    def __init__(
        self,
        categories: Sequence[Category],
        docs: Sequence[Counter[str]],
        vectors: Sequence[Vector],
        weigh: Callable[[Counter[str], Counter[str] | None], Vector],
    ) -> None:
        self.weigh = weigh
        n = len(categories)
        self.descriptions = [weigh(Counter(tokens(c.description)), None) for c in categories]
        self.examples = [[weigh(Counter(tokens(e)), None) for e in c.examples] for c in categories]
        self.concepts = [
            weigh(Counter(), Counter(concept_tokens(" ".join([_named(c), *c.keywords, c.description, *c.examples]))))
            for c in categories
        ]
        self.keywords = [{t for k in c.keywords for t in tokens(k)} for c in categories]
        self.names = [set(tokens(_named(c))) for c in categories]
        profiles = [
            grams(" ".join([_named(c)] * 2 + list(c.keywords) * 2 + [c.description, *c.examples])) for c in categories
        ]
        df = Counter(g for p in profiles for g in p)
        self.gram_idf = {g: math.log((1 + n) / (1 + k)) + 1.0 for g, k in df.items()}
        self.grams = [self._grams(p) for p in profiles]
        self.docs, self.vectors = list(docs), list(vectors)
        self.lengths = [sum(d.values()) for d in docs]
        self.mean_length = (sum(self.lengths) / n) if n else 1.0
        term_df = Counter(t for d in docs for t in d)
        self.bm25_idf = {t: math.log(1 + (n - k + 0.5) / (k + 0.5)) for t, k in term_df.items()}

    def _grams(self, counts: Counter[str]) -> Vector:
        return _unit({g: (1 + math.log(k)) * self.gram_idf[g] for g, k in counts.items() if g in self.gram_idf})

    def lexical(
        self, subject: str, body: str, by_words: Sequence[float], with_concepts: Sequence[float], query: Vector
    ) -> list[list[float]]:
        """Each category's lexical features, in `LEXICAL`'s order. `subject` is empty when the body disowns it;
        `query` is the email's word vector (subject twice, then the body) that gave `by_words`."""
        text = f"{subject}\n{subject}\n{body}"
        counts = Counter(tokens(text))
        by_subject = self.weigh(Counter(tokens(subject)), None)
        by_body = self.weigh(Counter(tokens(body)), None)
        concepts = self.weigh(Counter(), Counter(concept_tokens(f"{subject}\n{body}")))
        char_grams = self._grams(grams(text))
        rows = []
        for i in range(len(self.docs)):
            doc, length = self.docs[i], self.lengths[i]
            norm = _K1 * (1 - _B + _B * length / (self.mean_length or 1.0))
            bm25 = sum(self.bm25_idf[t] * doc[t] * (_K1 + 1) / (doc[t] + norm) for t in counts if t in doc)
            rows.append(
                [
                    by_words[i],
                    with_concepts[i],
                    cosine(concepts, self.concepts[i]),
                    cosine(query, self.descriptions[i]),
                    max((cosine(query, e) for e in self.examples[i]), default=0.0),
                    cosine(by_subject, self.vectors[i]),
                    cosine(by_body, self.vectors[i]),
                    cosine(char_grams, self.grams[i]),
                    bm25,
                    float(sum(1 for t in counts if t in self.keywords[i])),
                    float(sum(1 for t in counts if t in self.names[i])),
                ]
            )
        return rows


def _named(c: Category) -> str:
    return c.name.replace("_", " ").replace("-", " ")


def relative(rows: Sequence[Sequence[float]], floors: Sequence[float] = ()) -> list[list[float]]:
    """Each feature as its gap to the best category's value, then that gap over the feature's spread across the
    categories (its standard deviation, plus the feature's floor: `SPREAD_FLOORS`), side by side: what the weights
    multiply. The floor keeps a difference too small to mean anything from counting as a whole spread (with two
    categories every gap is one)."""
    columns = list(zip(*rows, strict=True))
    floors = floors or SPREAD_FLOORS
    tops = [max(col) for col in columns]
    spreads = [
        math.sqrt(sum((v - sum(col) / len(col)) ** 2 for v in col) / len(col)) + floor
        for col, floor in zip(columns, floors, strict=False)
    ]
    out = []
    for row in rows:
        rel = []
        for value, top, spread in zip(row, tops, spreads, strict=True):
            rel += [value - top, (value - top) / spread]
        out.append(rel)
    return out


def probabilities(rows: Sequence[Sequence[float]], weights: Sequence[float]) -> list[float]:
    """Each category's probability: the softmax of the weighted sums of its relative features."""
    scores = [sum(w * x for w, x in zip(weights, rel, strict=True)) for rel in relative(rows)]
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]
