"""HTTP bearer authentication: a refused token gets a 401 that says why, and never echoes the token."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_servers import crm
from mcp_servers.kit import GuardedServer, JwksUrl, JwtVerifier
from mcp_servers.kit._jwt import REFUSAL_DESCRIPTIONS
from mcp_servers.kit._storage import Database
from schemas import TenantFile
from tests.conftest import ISSUER, Issuer
from tests.mcp_servers.helpers import seeded

pytestmark = pytest.mark.anyio

MARKER = "Zq9-attacker-text"
"""Text an attacker puts in a token; no reply may contain it."""


@dataclass
class Running:
    url: str
    server: GuardedServer


@pytest.fixture
async def running(sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer) -> AsyncIterator[Running]:
    server = seeded(crm, sqlite_db, tenants)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    uv = uvicorn.Server(
        uvicorn.Config(server.http_app(issuer.verifier(audience=url), resource_url=url), log_level="warning")
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: uv.serve(sockets=[sock]))
        try:
            yield Running(url, server)
        finally:
            uv.should_exit = True
    sock.close()


CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "find_customer", "arguments": {}}}


async def post(url: str, authorization: str | None, *, version: str = "2026-07-28") -> httpx2.Response:
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": version}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.post(url, content=json.dumps(CALL).encode(), headers=headers)


def claims(url: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": url,
        "sub": f"sub-{MARKER}",
        "tenant": "acme",
        "scope": "crm:read",
        "iat": now,
        "exp": now + 600,
    }


def signed(issuer: Issuer, body: dict[str, Any], kid: str | None = None) -> str:
    return jwt.encode(body, issuer.keys.private_key, algorithm="EdDSA", headers={"kid": kid or issuer.keys.kid})


def refused_tokens(issuer: Issuer, url: str) -> dict[str, tuple[str, str]]:
    """A token per refusal reason, each carrying attacker text somewhere: label -> (reason, token)."""
    base = claims(url)
    now = int(time.time())
    return {
        "expired": ("expired", signed(issuer, {**base, "iat": now - 7200, "exp": now - 3600})),
        "not yet valid": ("not_yet_valid", signed(issuer, {**base, "nbf": now + 3600})),
        "wrong audience": ("wrong_audience", signed(issuer, {**base, "aud": f"http://127.0.0.1:9/{MARKER}"})),
        "wrong issuer": ("wrong_issuer", signed(issuer, {**base, "iss": f"http://127.0.0.1:9/{MARKER}"})),
        "bad signature": (
            "bad_signature",
            jwt.encode(base, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": issuer.keys.kid}),
        ),
        "unknown key": ("unknown_key", signed(issuer, base, kid=f"kid-{MARKER}")),
        "alg none": ("algorithm_refused", jwt.encode(base, None, algorithm="none", headers={"kid": MARKER})),
        "exp a string": ("claims_malformed", signed(issuer, {**base, "exp": str(now + 600)})),
        "no tenant": ("claims_malformed", signed(issuer, {k: v for k, v in base.items() if k != "tenant"})),
        "tenant malformed": ("claims_malformed", signed(issuer, {**base, "tenant": f"{MARKER} !"})),
        "garbage": ("malformed", f"{MARKER}.{MARKER}"),
    }


async def test_each_refused_token_gets_a_401_that_says_why_without_echoing_it(running: Running, issuer: Issuer) -> None:
    seen: dict[str, str] = {}
    for label, (reason, token) in refused_tokens(issuer, running.url).items():
        response = await post(running.url, f"Bearer {token}")
        assert response.status_code == 401, label
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer error="invalid_token", '), label
        assert f'error_description="{REFUSAL_DESCRIPTIONS[reason]}"' in challenge, label
        assert 'resource_metadata="http://127.0.0.1:' in challenge, label
        body = response.json()
        assert body["jsonrpc"] == "2.0" and body["error"]["data"]["code"] == "unauthenticated", label
        assert body["error"]["data"]["message"] == REFUSAL_DESCRIPTIONS[reason], label
        for text in (challenge, response.text):
            assert MARKER not in text and token not in text, label
        seen[label] = REFUSAL_DESCRIPTIONS[reason]
    assert len({seen["expired"], seen["wrong audience"], seen["bad signature"], seen["garbage"]}) == 4


async def test_a_missing_token_gets_a_challenge_without_an_error_code(running: Running) -> None:
    for authorization in (None, f"Basic {MARKER}"):
        response = await post(running.url, authorization)
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer ") and "error=" not in challenge  # RFC 6750 §3.1
        assert "resource_metadata=" in challenge
        assert response.json()["error"]["data"]["code"] == "unauthenticated"
        assert MARKER not in response.text


async def test_a_legacy_request_with_a_string_exp_is_refused(running: Running, issuer: Issuer) -> None:
    token = signed(issuer, {**claims(running.url), "exp": str(int(time.time()) + 600)})
    response = await post(running.url, f"Bearer {token}", version="2025-11-25")
    assert response.status_code == 401
    assert response.json()["error"]["data"]["code"] == "unauthenticated"


async def test_a_valid_token_still_passes_and_calls_the_tool(running: Running, issuer: Issuer) -> None:
    headers = {"Authorization": f"Bearer {issuer.token('acme', ['crm:read'], audience=running.url)}"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(running.url, http_client=http)) as client,
    ):
        result = await client.call_tool("find_customer", {"email": "nobody@example.com"})
    assert result.structured_content == {"customer": None}


async def test_keys_that_cannot_be_fetched_are_503_with_retry_after_not_a_500(
    sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening: the JWKS URL refuses connections
    server = seeded(crm, sqlite_db, tenants)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    verifier = JwtVerifier(JwksUrl(f"http://127.0.0.1:{dead.getsockname()[1]}/jwks.json"), issuer=ISSUER, audience=url)
    uv = uvicorn.Server(uvicorn.Config(server.http_app(verifier, resource_url=url), log_level="critical"))
    token = f"Bearer {issuer.token('acme', ['crm:read'], audience=url)}"
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: uv.serve(sockets=[sock]))
        try:
            for _ in range(2):  # the failed fetch, then the wait before the next one
                response = await post(url, token)
                assert response.status_code == 503
                assert int(response.headers["retry-after"]) >= 1
                assert response.json()["error"]["data"]["code"] == "unavailable"
        finally:
            uv.should_exit = True
    sock.close()
    dead.close()
