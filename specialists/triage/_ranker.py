"""How the offline classifier weighs its evidence: a small linear model over general features of an email and a
category, its weights fit on the tuning suites and never on a held-out one.

Each feature says how close the email reads to one category by one kind of evidence: the TF-IDF similarity of the
words (with their concepts, and the concepts alone), of the subject alone and of the body alone; to the
description alone and to the nearest single example; BM25; how many of the email's words are the category's keywords
or its name; and, with the embeddings extra, the cosine of the email's meaning with the category's, its name's and
its description's. A feature is read relative to the other categories of the same
policy: its gap to the best category's value, and that gap over the feature's spread across the categories, so
that a policy of twelve short categories and one of four long ones read alike. The category's score is the
weighted sum of those gaps; the choice is the highest score and the confidence its softmax, a conditional logit
fit by log-loss and so calibrated as fit: on the tuning suites' left-out folds its mean confidence equalled its
accuracy.

The weights are numbers over kinds of evidence, never a word of any business. `scripts/fit-ranker` fits them
again on the tuning suites (five folds of whole suites left out in turn print the accuracy to expect on unseen
businesses) and prints the tuples below. It leaves out the emails whose risk words decide the category anyway
(`_risk`): the model learns to tell ordinary categories apart.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from schemas import Category
from specialists.kit import tokens
from specialists.triage._concepts import policy_concepts, policy_tokens

Vector = dict[str, float]

LEXICAL = (
    "words",
    "concepts",
    "concepts_only",
    "description",
    "nearest_example",
    "subject",
    "body",
    "bm25",
    "keyword_hits",
    "name_hits",
)
"""The features of the words, read with or without the embeddings extra."""
MEANING = ("meaning", "meaning_name", "meaning_description")
"""The features of the embeddings extra."""

# fmt: off
SPREAD_FLOORS: tuple[float, ...] = (
    0.0207, 0.0220, 0.0455, 0.0168, 0.0275,
    0.0159, 0.0181, 0.8400, 0.1712, 0.0786,
    0.0281, 0.0260, 0.0252,
)
"""Per feature of `LEXICAL` then `MEANING`, a quarter of its median spread across a policy's categories over the
tuning suites' emails (fit by scripts/fit-ranker)."""
LEXICAL_WEIGHTS: tuple[float, ...] = (
    -0.074, -0.801,
    0.255, 1.686,
    0.316, 0.145,
    -0.039, 0.054,
    1.114, 0.261,
    -0.127, 0.276,
    0.076, -0.048,
    0.425, -0.762,
    -0.274, 0.549,
    -0.437, 0.278,
)
"""Per feature of `LEXICAL`, the weight of its gap then of its scaled gap (fit by scripts/fit-ranker)."""
MEANING_WEIGHTS: tuple[float, ...] = (
    0.005, -0.675,
    0.237, 1.368,
    0.198, 0.104,
    -0.150, -0.050,
    1.113, 0.083,
    -0.201, 0.194,
    0.049, -0.256,
    0.411, -0.576,
    -0.260, 0.373,
    -0.525, 0.151,
    0.465, 0.878,
    0.072, 0.304,
    0.254, 0.121,
)
"""Per feature of `LEXICAL` then `MEANING`, the weight of its gap then of its scaled gap (fit by scripts/fit-ranker)."""
# fmt: on

_K1, _B = 1.2, 0.75
"""BM25's usual constants."""


class Index:
    """Sparse vectors by their terms: the dot product of one query with each of them in one pass over the query."""

    def __init__(self, vectors: Sequence[Mapping[str, float]]) -> None:
        self.size = len(vectors)
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for j, vector in enumerate(vectors):
            for term, weight in vector.items():
                self.postings.setdefault(term, []).append((j, weight))

    def dots(self, query: Mapping[str, float]) -> list[float]:
        out = [0.0] * self.size
        for term, weight in query.items():
            for j, w in self.postings.get(term, ()):
                out[j] += weight * w
        return out


class Evidence:
    """The categories' side of the lexical features, built once per policy. `weigh` is the classifier's TF-IDF
    (its IDF over the categories' profiles): a text's word counts, and concept counts when given, to a unit vector."""

    def __init__(
        self,
        categories: Sequence[Category],
        docs: Sequence[Counter[str]],
        profiles: Index,
        weigh: Callable[[Counter[str], Counter[str] | None], Vector],
    ) -> None:
        self.weigh = weigh
        self.size = n = len(categories)
        self.profiles = profiles
        self.descriptions = Index([weigh(Counter(policy_tokens(c.description)), None) for c in categories])
        examples = [(i, weigh(Counter(policy_tokens(e)), None)) for i, c in enumerate(categories) for e in c.examples]
        self.example_owners = [i for i, _ in examples]
        self.examples = Index([vector for _, vector in examples])
        said = [" ".join([_named(c), *c.keywords, c.description, *c.examples]) for c in categories]
        self.concepts = Index([weigh(Counter(), Counter(policy_concepts(text))) for text in said])
        self.keywords = Index([dict.fromkeys((t for k in c.keywords for t in tokens(k)), 1.0) for c in categories])
        self.names = Index([dict.fromkeys(tokens(_named(c)), 1.0) for c in categories])
        # BM25: each term's share of each category's score, as a vector per category
        lengths = [sum(d.values()) for d in docs]
        mean_length = (sum(lengths) / n) if n else 1.0
        term_df = Counter(t for d in docs for t in d)
        idf = {t: math.log(1 + (n - k + 0.5) / (k + 0.5)) for t, k in term_df.items()}
        bm25 = []
        for doc, length in zip(docs, lengths, strict=True):
            norm = _K1 * (1 - _B + _B * length / (mean_length or 1.0))
            bm25.append({t: idf[t] * tf * (_K1 + 1) / (tf + norm) for t, tf in doc.items()})
        self.bm25 = Index(bm25)

    def lexical(
        self,
        subject: str,
        body: str,
        words: Counter[str],
        concepts: Counter[str],
        by_words: Sequence[float],
        with_concepts: Sequence[float],
        query: Vector,
    ) -> list[list[float]]:
        """Each category's lexical features, in `LEXICAL`'s order. `words` and `concepts` are the word and concept
        counts of what the classifier reads (the subject twice, then the body; the body alone when it disowns the
        subject, and then `subject` is empty), `query` its word vector that gave `by_words`."""
        said = dict.fromkeys(words, 1.0)
        nearest = [0.0] * self.size
        for owner, closeness in zip(self.example_owners, self.examples.dots(query), strict=True):
            nearest[owner] = max(nearest[owner], closeness)
        columns = (
            by_words,
            with_concepts,
            self.concepts.dots(self.weigh(Counter(), concepts)),
            self.descriptions.dots(query),
            nearest,
            self.profiles.dots(self.weigh(Counter(tokens(subject)), None)),
            self.profiles.dots(self.weigh(Counter(tokens(body)), None)),
            self.bm25.dots(said),
            self.keywords.dots(said),
            self.names.dots(said),
        )
        return [list(row) for row in zip(*columns, strict=True)]


def _named(c: Category) -> str:
    return c.name.replace("_", " ").replace("-", " ")


def relative(rows: Sequence[Sequence[float]], floors: Sequence[float] = ()) -> list[list[float]]:
    """Each feature as its gap to the best category's value, then that gap over the feature's spread across the
    categories (its standard deviation, plus the feature's floor: `SPREAD_FLOORS`), side by side: what the weights
    multiply. The floor keeps a difference too small to mean anything from counting as whole spreads (with two
    categories, any gap at all is two of them). The lexical features come first, so they take the first floors."""
    columns = list(zip(*rows, strict=True))
    floors = floors or SPREAD_FLOORS
    tops = [max(col) for col in columns]
    spreads = []
    for col, floor in zip(columns, floors, strict=False):
        mean = sum(col) / len(col)
        spreads.append(math.sqrt(sum((v - mean) ** 2 for v in col) / len(col)) + floor)
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
