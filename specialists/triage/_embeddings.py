"""What an email means, read by a small static embedding model, when the `embeddings` extra is installed.

The model is WordLlama's `l2_supercat` at 256 dimensions: a table of token vectors, averaged over a text, that the
`wordllama` wheel ships with its tokenizer. Only those bundled files are read (`disable_download`, with the
package's own folder as its cache): nothing is fetched at run time. Each category is the unit mean (centroid) of
its texts' unit vectors: its name with its keywords, its description, and each example; the email is its subject
and its body without the signature, as the words read it. Their cosine is the evidence `_classify` blends in.

`DESKHAND_EMBEDDINGS=off` (or `0`, `false`, `no`) keeps the pure lexical engine with the extra installed.
"""

from __future__ import annotations

import logging
import os
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas import Category

if TYPE_CHECKING:  # numpy comes with the extra: imported where the model is used
    import numpy as np

SWITCH = "DESKHAND_EMBEDDINGS"
_OFF = frozenset({"off", "0", "false", "no"})


def enabled() -> bool:
    """Whether the embeddings are read: the extra installed and not switched off."""
    return os.environ.get(SWITCH, "").strip().casefold() not in _OFF and _model() is not None


@cache
def _model() -> Any | None:
    """The bundled model, loaded once per process; None without the extra."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        import wordllama
    except ImportError:
        return None
    finally:  # importing wordllama calls logging.basicConfig(INFO): the application's logging is its own
        root.handlers[:] = handlers
        root.setLevel(level)
    bundled = Path(wordllama.__file__).parent  # weights/ and tokenizers/ as the wheel lays them out
    return wordllama.WordLlama.load(config="l2_supercat", dim=256, cache_dir=bundled, disable_download=True)


def centroids(categories: tuple[Category, ...]) -> np.ndarray:
    """Per category (rows in the policy's order) three unit vectors: the centroid of its texts, its name with its
    keywords, and its description (shape: categories × 3 × dimensions)."""
    import numpy as np

    return np.stack([_rows(c.name, tuple(c.keywords), c.description, tuple(c.examples)) for c in categories])


@lru_cache(maxsize=4096)
def _rows(name: str, keywords: tuple[str, ...], description: str, examples: tuple[str, ...]) -> np.ndarray:
    """One category's three rows of `centroids`, kept: a policy's profiles are built again with most categories
    unchanged (`tenant check` leaves out one example at a time)."""
    import numpy as np

    named = f"{name.replace('_', ' ').replace('-', ' ')}: {', '.join(keywords)}"
    texts = _unit(_embed([named, description, *examples]))
    rows = np.stack([_unit(texts.mean(axis=0)), texts[0], texts[1]])
    rows.flags.writeable = False  # shared by every policy that holds the category
    return rows


def closeness(text: str, centroids: np.ndarray) -> list[list[float]]:
    """Per category, the cosine of the meaning of an email's text (its subject and body as the words read them)
    with the category's, with its name's and with its description's (`centroids`' rows)."""
    vector = _unit(_embed([text])[0])
    return [[float(x) for x in row] for row in centroids @ vector]


def _embed(texts: list[str]) -> np.ndarray:
    """The mean of each text's token vectors (a row per text)."""
    import numpy as np

    model = _model()
    if model is None:
        raise RuntimeError("the embeddings are read only with the `embeddings` extra installed (see enabled())")
    return np.asarray(model.embed(texts), dtype=np.float32)


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Each vector (the last axis) at length 1; a text with no token stays zero."""
    import numpy as np

    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    unit: np.ndarray = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return unit
