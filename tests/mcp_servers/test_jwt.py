"""Token verification: what a token must be for its principal to be believed."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import jwt
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from coordinator import DevKeys, TokenIssuer
from mcp_servers.kit import JwksUrl, JwtVerifier, KeySet, TokenRefused
from tests.conftest import AUDIENCE, ISSUER, Issuer

pytestmark = pytest.mark.anyio


async def test_principal_comes_from_the_claims_only(issuer: Issuer) -> None:
    token = issuer.token("northwind", ["kb:read", "crm:read"])
    principal = await issuer.verifier().verify_principal(token)
    assert principal.tenant == "northwind"
    assert principal.scopes == frozenset({"kb:read", "crm:read"})
    assert principal.subject == "tester"


async def test_token_for_several_servers_is_accepted_by_each(issuer: Issuer) -> None:
    other = "http://127.0.0.1:8703/mcp"
    token = issuer.issuer.mint(tenant="acme", scopes=["crm:read", "kb:read"], audience=[AUDIENCE, other])
    access = await issuer.verifier(other).verify_token(token)
    assert access is not None and access.resource == other


async def test_expired_token_is_refused_even_after_it_was_cached(dev_keys: DevKeys) -> None:
    verifier = JwtVerifier(KeySet(dev_keys.jwks(), source="t"), issuer=ISSUER, audience=AUDIENCE)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "s", "tenant": "acme", "scope": "crm:read", "iat": now - 100}
    live = jwt.encode(
        {**claims, "exp": now + 600}, dev_keys.private_key, algorithm="EdDSA", headers={"kid": dev_keys.kid}
    )
    assert await verifier.verify_token(live) is not None
    dead = jwt.encode(
        {**claims, "exp": now - 60}, dev_keys.private_key, algorithm="EdDSA", headers={"kid": dev_keys.kid}
    )
    with pytest.raises(TokenRefused) as info:
        await verifier.verify(dead)
    assert (info.value.code, info.value.reason) == ("unauthenticated", "expired")


async def test_unknown_key_id_is_refused(issuer: Issuer, tmp_path: Path) -> None:
    stranger = DevKeys.create(tmp_path / "other")
    token = TokenIssuer(stranger, issuer=ISSUER).mint(tenant="acme", scopes=["crm:read"], audience=AUDIENCE)
    with pytest.raises(TokenRefused) as info:
        await issuer.verifier().verify(token)
    assert (info.value.code, info.value.reason) == ("unauthenticated", "unknown_key")


@pytest.mark.parametrize(
    ("jwk_change", "message"),
    [({"alg": "HS256"}, "has alg 'HS256'"), ({"alg": None}, "has alg None"), ({"d": "secret"}, "private key")],
)
def test_jwks_with_symmetric_unpinned_or_private_keys_is_refused(
    dev_keys: DevKeys, jwk_change: dict[str, object], message: str
) -> None:
    jwk = {**dev_keys.jwks()["keys"][0], **jwk_change}
    with pytest.raises(ValueError, match=message):
        KeySet({"keys": [jwk]}, source="jwks.json")


def test_unreadable_jwks_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text("{nope", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read the JWKS"):
        KeySet.from_file(path)


@pytest.fixture
async def jwks_server(dev_keys: DevKeys) -> AsyncIterator[str]:
    async def jwks(_request: object) -> JSONResponse:
        return JSONResponse(dev_keys.jwks())

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/jwks.json", jwks)]), log_level="warning"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: server.serve(sockets=[sock]))
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}/jwks.json"
        finally:
            server.should_exit = True
    sock.close()


async def test_keys_can_come_from_a_jwks_url(jwks_server: str, issuer: Issuer) -> None:
    verifier = JwtVerifier(JwksUrl(jwks_server), issuer=ISSUER, audience=AUDIENCE)
    principal = await verifier.verify_principal(issuer.token("acme", ["mail:read"]))
    assert principal.scopes == frozenset({"mail:read"})
    assert json.loads(json.dumps(issuer.keys.jwks()))["keys"][0]["alg"] == "EdDSA"


def signed(dev_keys: DevKeys, claims: dict[str, object], headers: dict[str, object] | None = None) -> str:
    """A token signed with the trusted key: only its claims or header can be wrong."""
    return jwt.encode(claims, dev_keys.private_key, algorithm="EdDSA", headers={"kid": dev_keys.kid, **(headers or {})})


def valid_claims() -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "s",
        "tenant": "acme",
        "scope": "crm:read",
        "iat": now,
        "exp": now + 600,
    }


LATER = 30 * 24 * 3600
"""A month: parameters are made when the tests are collected, and the suite may run for many minutes before one of
them does (a token 10 minutes ahead was expired by then in a 22-minute run)."""


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"exp": str(int(time.time()) + LATER)}, id="exp as a numeric string"),
        pytest.param({"nbf": str(int(time.time()) - 10)}, id="nbf as a numeric string"),
        pytest.param({"iat": str(int(time.time()))}, id="iat as a numeric string"),
        pytest.param({"iat": True}, id="iat as a boolean"),
        pytest.param({"nbf": False}, id="nbf as a boolean"),
        pytest.param({"exp": [int(time.time()) + LATER]}, id="exp as a list"),
        pytest.param({"exp": float("inf")}, id="exp infinite"),
    ],
)
async def test_numeric_date_claims_that_are_not_numbers_are_refused(
    dev_keys: DevKeys, change: dict[str, object]
) -> None:
    verifier = JwtVerifier(KeySet(dev_keys.jwks(), source="t"), issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(TokenRefused) as info:
        await verifier.verify(signed(dev_keys, {**valid_claims(), **change}))
    assert info.value.code == "unauthenticated"
    assert info.value.reason == "claims_malformed"
    assert await verifier.verify_token(signed(dev_keys, {**valid_claims(), **change})) is None


async def test_numeric_dates_may_be_fractional(dev_keys: DevKeys) -> None:
    verifier = JwtVerifier(KeySet(dev_keys.jwks(), source="t"), issuer=ISSUER, audience=AUDIENCE)
    now = time.time()
    principal = await verifier.verify_principal(signed(dev_keys, {**valid_claims(), "iat": now, "exp": now + 600.5}))
    assert principal.tenant == "acme"


@pytest.mark.parametrize(
    ("change", "headers", "reason"),
    [
        pytest.param({"exp": int(time.time()) - 3600}, None, "expired", id="expired"),
        pytest.param({"nbf": int(time.time()) + LATER}, None, "not_yet_valid", id="nbf ahead"),
        pytest.param({"iat": int(time.time()) + LATER}, None, "not_yet_valid", id="iat ahead"),
        pytest.param({"aud": "http://127.0.0.1:9/mcp"}, None, "wrong_audience", id="wrong audience"),
        pytest.param({"iss": "http://127.0.0.1:9/evil"}, None, "wrong_issuer", id="wrong issuer"),
        pytest.param({"tenant": None}, None, "claims_malformed", id="no tenant"),
        pytest.param({"sub": 7}, None, "claims_malformed", id="sub not a string"),
        pytest.param({}, {"kid": "someone-else"}, "unknown_key", id="unknown key"),
    ],
)
async def test_each_refusal_names_its_reason(
    dev_keys: DevKeys, change: dict[str, object], headers: dict[str, object] | None, reason: str
) -> None:
    verifier = JwtVerifier(KeySet(dev_keys.jwks(), source="t"), issuer=ISSUER, audience=AUDIENCE)
    claims = {k: v for k, v in {**valid_claims(), **change}.items() if v is not None}
    with pytest.raises(TokenRefused) as info:
        await verifier.verify(signed(dev_keys, claims, headers))
    assert (info.value.code, info.value.reason) == ("unauthenticated", reason)


async def test_a_token_with_another_signature_or_no_signature_is_refused_with_its_reason(
    dev_keys: DevKeys, tmp_path: Path
) -> None:
    verifier = JwtVerifier(KeySet(dev_keys.jwks(), source="t"), issuer=ISSUER, audience=AUDIENCE)
    other = DevKeys.create(tmp_path / "other")
    forged = jwt.encode(valid_claims(), other.private_key, algorithm="EdDSA", headers={"kid": dev_keys.kid})
    unsigned = jwt.encode(valid_claims(), None, algorithm="none", headers={"kid": dev_keys.kid})
    header = base64.urlsafe_b64encode(json.dumps({"alg": "EdDSA", "kid": ["a", "list"]}).encode()).decode()
    odd_kid = f"{header.rstrip('=')}.{forged.split('.', 1)[1]}"
    tokens = {"forged": forged, "unsigned": unsigned, "garbage": "not.a.jwt", "empty": "", "kid a list": odd_kid}
    reasons = {}
    for label, token in tokens.items():
        with pytest.raises(TokenRefused) as info:
            await verifier.verify(token)
        reasons[label] = info.value.reason
    assert reasons == {
        "forged": "bad_signature",
        "unsigned": "algorithm_refused",
        "garbage": "malformed",
        "empty": "malformed",
        "kid a list": "malformed",
    }
