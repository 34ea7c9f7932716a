"""The coordinator's token issuer: development keys and short-lived, least-privilege JWTs.

`DevKeys.create(dir)` writes an Ed25519 signing key (mode 0600) and the matching public JWKS (what servers
trust); `DevKeys.load` refuses a key file that others than its owner may read. A key may come from the environment
instead (`signing_key_variable`: `DESKHAND_SIGNING_KEY`, a pinned tenant's `DESKHAND_SIGNING_KEY_<TENANT>`).
`TokenIssuer.mint(...)` signs a token for one tenant, one audience set and only the scopes asked for; the claim
names come from `schemas.Claims`. `Attribution` is who a token says is calling: a specialist
(`specialist:<name>`), or for an approved call, the run and the approver.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from schemas import BUILTIN_SCOPES, SPECIALIST_SUBJECT_PREFIX, Claims, ConfigError, check_private, unknown_scopes

SIGNING_KEY_FILE = "signing-key.pem"
SIGNING_KEY_ENV = "DESKHAND_SIGNING_KEY"
JWKS_FILE = "jwks.json"
ALGORITHM = "EdDSA"
APPROVALS_SUBJECT: Final = "coordinator:approvals"
"""The subject of a token minted to make one approved call (the approver is its actor)."""


@dataclass(frozen=True)
class Attribution:
    """Who a minted token says is calling, for the servers' audit: its subject and, for a token minted
    for one call, the run it belongs to and the person on whose decision it is made (RFC 8693 `act`)."""

    subject: str
    run: str | None = None
    actor: str | None = None
    ttl_seconds: int | None = None
    """Shorter than the connector's default, for a token minted for one call."""

    @classmethod
    def specialist(cls, name: str) -> Attribution:
        return cls(f"{SPECIALIST_SUBJECT_PREFIX}{name}")


@dataclass(frozen=True)
class DevKeys:
    private_key: Ed25519PrivateKey
    kid: str

    @classmethod
    def create(cls, directory: Path, *, variable: str | None = None) -> DevKeys:
        """Load the keys in `directory` (or the environment's `variable`), or make them there if there are none
        (idempotent). A key from the environment is never written to a file: only its public JWKS is."""
        key_path = directory / SIGNING_KEY_FILE
        if _from_environment(variable) is not None:
            keys = cls.load(directory, variable=variable)
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            (directory / JWKS_FILE).write_text(json.dumps(keys.jwks(), indent=2) + "\n", encoding="utf-8")
            return keys
        if key_path.exists():
            return cls.load(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        keys = cls(key, _kid(key))
        (directory / JWKS_FILE).write_text(json.dumps(keys.jwks(), indent=2) + "\n", encoding="utf-8")
        return keys

    @classmethod
    def load(cls, directory: Path, *, variable: str | None = None) -> DevKeys:
        """The key in the environment's `variable` when it is set, else the one in `directory`; a `ConfigError` if
        the key file is missing, not an Ed25519 key, or readable by anyone but its owner (mode & 0o077: a signing key
        others may read is a key others may sign with)."""
        pem = _from_environment(variable)
        where = f"${variable}" if pem is not None else str(directory / SIGNING_KEY_FILE)
        if pem is None:
            if not (directory / SIGNING_KEY_FILE).exists():
                raise ConfigError(f"{where}: no signing key; run `deskhand init`", field="keys")
            check_private(
                directory / SIGNING_KEY_FILE, "keys", hint=", and replace the key if anyone else could read it"
            )
            try:
                pem = (directory / SIGNING_KEY_FILE).read_bytes()
            except OSError as exc:
                raise ConfigError(f"{where}: cannot read the signing key ({exc}); run `deskhand init`") from exc
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except ValueError as exc:
            raise ConfigError(f"{where}: not a PEM private key ({exc})", field="keys") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{where}: expected an Ed25519 private key", field="keys")
        return cls(key, _kid(key))

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        jwk = json.loads(OKPAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update(kid=self.kid, alg=ALGORITHM, use="sig")
        return {"keys": [jwk]}


def signing_key_variable(tenant: str | None = None) -> str:
    """The environment variable that may hold a signing key (PEM) instead of its file: `DESKHAND_SIGNING_KEY` for
    the home's, `DESKHAND_SIGNING_KEY_NORTH_WIND` for a pinned tenant `north-wind`."""
    return SIGNING_KEY_ENV if tenant is None else f"{SIGNING_KEY_ENV}_{tenant.upper().replace('-', '_')}"


def _from_environment(variable: str | None) -> bytes | None:
    value = os.environ.get(variable, "").strip() if variable else ""
    return value.encode() + b"\n" if value else None


def _kid(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:12]).decode().rstrip("=")


def parse_ttl(text: str) -> int:
    """`90s`, `15m`, `2h`, `1d` or plain seconds → seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        seconds = int(text[:-1]) * units[text[-1]] if text and text[-1] in units else int(text)
    except ValueError:
        raise ConfigError(f"ttl {text!r}: expected a number with s, m, h or d (e.g. 15m)", field="ttl") from None
    if not 0 < seconds <= 30 * 86400:
        raise ConfigError(f"ttl {text!r}: must be between 1 second and 30 days", field="ttl")
    return seconds


class TokenIssuer:
    def __init__(self, keys: DevKeys, *, issuer: str) -> None:
        self._keys = keys
        self.issuer = issuer

    def mint(
        self,
        *,
        tenant: str | None,
        scopes: Iterable[str],
        audience: str | Sequence[str],
        ttl_seconds: int = 900,
        subject: str = "deskhand-cli",
        roles: Iterable[str] = (),
        client_id: str | None = None,
        run: str | None = None,
        actor: str | None = None,
    ) -> str:
        """A signed token; `run` and `actor` (a subject) name the run and the person a one-call token is for.
        `tenant=None` binds it to every tenant instead (`Claims.ALL_TENANTS`: HTTP API tokens of a platform admin)."""
        scope_list = sorted(set(scopes))
        unknown = unknown_scopes(scope_list)
        if unknown:
            raise ConfigError(
                f"unknown scopes {unknown}; expected server:action, a built-in server's of {list(BUILTIN_SCOPES)}",
                field="scopes",
            )
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience if isinstance(audience, str) else list(audience),
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": uuid.uuid4().hex,
            **({Claims.ALL_TENANTS: True} if tenant is None else {Claims.TENANT: tenant}),
            Claims.SCOPE: " ".join(scope_list),
            Claims.ROLES: sorted(set(roles)),
            Claims.CLIENT_ID: client_id or subject,
        }
        if run is not None:
            claims[Claims.RUN] = run
        if actor is not None:
            claims[Claims.ACTOR] = {"sub": actor}
        return jwt.encode(claims, self._keys.private_key, algorithm=ALGORITHM, headers={"kid": self._keys.kid})
