"""The one canonical form that every part hashes a call's arguments with."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from schemas import args_hash, canonical_json


def test_arguments_hash_the_same_whatever_their_key_order_and_keep_their_text() -> None:
    value = {"b": [1, "Rückerstattung – bitte"], "a": None}
    assert canonical_json(value) == '{"a":null,"b":[1,"Rückerstattung – bitte"]}'.encode()
    assert args_hash(value) == hashlib.sha256(canonical_json(value)).hexdigest()
    assert args_hash({"a": None, "b": [1, "Rückerstattung – bitte"]}) == args_hash(value)
    assert args_hash({**value, "a": 0}) != args_hash(value)
    at = datetime(2026, 1, 2, tzinfo=UTC)
    assert canonical_json({"at": at}) == f'{{"at":"{at}"}}'.encode()  # what JSON cannot hold, as its str


def test_the_ascii_form_is_the_one_stored_keys_were_made_with() -> None:
    """Idempotency keys and the keys of emails without a message id were made with json.dumps' defaults:
    a run re-claimed after an upgrade must make the same keys, so this form must not move."""
    value = ["run-1", 2, "drafting", "helpdesk.create_ticket", {"subject": "Doppelt belastet – bitte"}]
    made = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    assert canonical_json(value, ascii_only=True) == made and b"\\u2013" in made
    assert args_hash(value, ascii_only=True) == hashlib.sha256(made).hexdigest()
