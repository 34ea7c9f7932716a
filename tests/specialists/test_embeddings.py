"""The offline classifier with the `embeddings` extra: the bundled model reads what an email means, the switch
turns it off, and nothing is fetched to load it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from schemas import InboundEmail, Policy
from specialists.triage import ClassifyRequest, classify_offline
from specialists.triage._classify import meanings

pytest.importorskip("wordllama", reason="the `embeddings` extra is not installed")

SWITCH = "DESKHAND_EMBEDDINGS"
POLICY = Policy.model_validate(
    {
        "categories": [
            {"name": "invoices", "description": "Invoices, payments and refunds", "queue": "accounts"},
            {"name": "deliveries", "description": "Parcels, couriers and shipping", "queue": "dispatch"},
            {"name": "sign_in", "description": "Passwords, logins and two-factor codes", "queue": "identity"},
        ],
        "priorities": [{"priority": "P3"}],
        "drafting": {"signature": "The team", "templates": {"default": "{answer}\n\n{signature}"}},
    }
)
# Each shares no word, and no concept of the support lexicon, with the category it belongs to.
PARAPHRASES = [
    ("Nothing turned up", "The box I ordered never reached my door.", "deliveries"),
    ("Help", "I forgot the secret word and the phone never gets the text.", "sign_in"),
]


def classify(subject: str, body: str) -> tuple[str, float]:
    email = InboundEmail(sender="kim@example.org", subject=subject, body=body)
    result = classify_offline(ClassifyRequest(email=email), POLICY)
    return result.category, result.confidence


@pytest.mark.parametrize(("subject", "body", "category"), PARAPHRASES)
def test_a_paraphrase_that_shares_no_word_with_its_category_is_read_by_its_meaning(
    monkeypatch: pytest.MonkeyPatch, subject: str, body: str, category: str
) -> None:
    monkeypatch.setenv(SWITCH, "off")
    assert classify(subject, body)[1] == 0.0  # the lexical engine has no word to go by: a guess
    monkeypatch.setenv(SWITCH, "on")
    chosen, confidence = classify(subject, body)
    assert chosen == category
    assert confidence < POLICY.escalate.below_confidence  # the words said nothing: a person still looks


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "no"])
def test_the_switch_turns_the_embeddings_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    subject, body, _ = PARAPHRASES[0]
    email = InboundEmail(sender="kim@example.org", subject=subject, body=body)
    monkeypatch.setenv(SWITCH, "on")
    assert meanings(email, POLICY) is not None
    monkeypatch.setenv(SWITCH, value)
    assert meanings(email, POLICY) is None


LOAD_ONLY_BUNDLED = """
import json, logging, sys

def no_network(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
        raise RuntimeError(f"network used: {event} {args}")

sys.addaudithook(no_network)
from schemas import InboundEmail, Policy
from specialists.triage import ClassifyRequest, classify_offline
from specialists.triage._classify import meanings

policy = Policy.model_validate_json(sys.argv[1])
email = InboundEmail(sender="kim@example.org", subject=sys.argv[2], body=sys.argv[3])
result = classify_offline(ClassifyRequest(email=email), policy)
print(json.dumps({"category": result.category, "root_handlers": len(logging.getLogger().handlers)}))
"""


@pytest.mark.slow
def test_the_model_loads_from_the_wheel_alone_with_no_network_and_no_cache(tmp_path: Path) -> None:
    """A fresh process with an empty home, the hub offline and a proxy that answers nothing: the bundled weights
    and tokenizer are all it reads. It also leaves the application's logging as it found it."""
    home = tmp_path / "home"
    home.mkdir()
    environment = {
        **os.environ,
        SWITCH: "on",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "HF_HOME": str(home / "hf"),
        "HF_HUB_OFFLINE": "1",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    subject, body, category = PARAPHRASES[0]
    done = subprocess.run(
        [sys.executable, "-c", LOAD_ONLY_BUNDLED, POLICY.model_dump_json(), subject, body],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"category": category, "root_handlers": 0}
    assert list(home.rglob("*")) == []  # nothing downloaded, nothing cached
