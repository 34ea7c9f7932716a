"""Token verification: what a token must be for its principal to be believed."""

from __future__ import annotations

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
from mcp_servers.kit import JwksUrl, JwtVerifier, KeySet
from schemas import Unauthenticated
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
    with pytest.raises(Unauthenticated) as info:
        await verifier.verify(dead)
    assert "expired" in info.value.message


async def test_unknown_key_id_is_refused(issuer: Issuer, tmp_path: Path) -> None:
    stranger = DevKeys.create(tmp_path / "other")
    token = TokenIssuer(stranger, issuer=ISSUER).mint(tenant="acme", scopes=["crm:read"], audience=AUDIENCE)
    with pytest.raises(Unauthenticated) as info:
        await issuer.verifier().verify(token)
    assert "key id" in info.value.message


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
