"""One canonical form for hashing JSON values, so that every part hashes the same call the same way.

A call's `args_hash` is what ties its records together across processes: the coordinator's approval
and audit trail, the server's audit row and its idempotency record all carry it, so an auditor can
follow one call from the proposal to the row it wrote.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any, *, ascii_only: bool = False) -> bytes:
    """`value` as compact JSON with sorted keys (anything JSON cannot hold as its `str`). `ascii_only`
    escapes non-ASCII characters: only for digests that were stored that way and must stay stable."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_only, default=str).encode()


def args_hash(arguments: Any, *, ascii_only: bool = False) -> str:
    """SHA-256 of the arguments' canonical JSON: the same arguments hash the same everywhere
    (`ascii_only`: see `canonical_json`)."""
    return hashlib.sha256(canonical_json(arguments, ascii_only=ascii_only)).hexdigest()
