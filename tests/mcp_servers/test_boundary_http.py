"""The boundary over real streamable HTTP on 127.0.0.1: tokens, scopes, sizes, audit, idempotency."""

from __future__ import annotations

import base64
import hashlib
import hmac
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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from sqlmodel import select

from mcp_servers import crm
from mcp_servers.kit import AuditRecord, BoundarySettings, Database, GuardedServer
from schemas import TenantFile
from tests.conftest import AUDIENCE, ISSUER, Issuer
from tests.mcp_servers.helpers import seeded

pytestmark = pytest.mark.anyio


@dataclass
class Running:
    url: str
    server: GuardedServer

    async def audit(self) -> list[AuditRecord]:
        await self.server.audit.flush()
        with self.server.db.admin_session() as session:
            return list(session.exec(select(AuditRecord).order_by(AuditRecord.seq)).all())  # type: ignore[arg-type]


@pytest.fixture
async def running(db: Database, tenants: list[TenantFile], issuer: Issuer) -> AsyncIterator[Running]:
    server = seeded(crm, db, tenants, BoundarySettings(max_request_bytes=8 * 1024, rate_per_second=1000, burst=1000))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mcp"
    # The token audience is the server's canonical URL, so the verifier is built for this port.
    app = server.http_app(issuer.verifier(audience=url), resource_url=url)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: uv.serve(sockets=[sock]))
        try:
            yield Running(url, server)
        finally:
            uv.should_exit = True
    sock.close()


def token(issuer: Issuer, running: Running, tenant: str = "acme", scopes: tuple[str, ...] = ("crm:read",)) -> str:
    return issuer.token(tenant, scopes, audience=running.url)


async def post(
    url: str, tok: str | None, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None
) -> httpx2.Response:
    hdrs = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2025-11-25",
        **(headers or {}),
    }
    if tok is not None:
        hdrs["Authorization"] = f"Bearer {tok}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.post(url, content=content, headers=hdrs)


CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "find_customer", "arguments": {"email": "nobody@example.com"}},
}


async def test_sdk_client_lists_and_calls_tools_with_a_minted_token(
    running: Running, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    headers = {"Authorization": f"Bearer {token(issuer, running)}"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(running.url, http_client=http)) as client,
    ):
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"find_customer", "get_account", "list_interactions"}
        result = await client.call_tool("find_customer", {"email": tenants[0].customers[0].email})
        assert result.structured_content is not None
        assert result.structured_content["customer"]["id"] == tenants[0].customers[0].id


async def test_legacy_handshake_client_works_on_the_same_endpoint(running: Running, issuer: Issuer) -> None:
    headers = {"Authorization": f"Bearer {token(issuer, running)}"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(running.url, http_client=http), mode="legacy") as client,
    ):
        assert client.protocol_version != "2026-07-28"
        result = await client.call_tool("find_customer", {"email": "nobody@example.com"})
        assert result.structured_content == {"customer": None}


def hs256_with_public_key(claims: dict[str, Any], issuer: Issuer) -> str:
    """The algorithm-confusion attack, signed by hand (PyJWT itself refuses to make one)."""
    public_pem = issuer.keys.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": issuer.keys.kid}).encode())
        + "."
        + b64(json.dumps(claims).encode())
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def forged_tokens(issuer: Issuer, running: Running) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": running.url,
        "sub": "x",
        "tenant": "acme",
        "scope": "crm:read",
        "iat": now,
        "exp": now + 600,
    }
    other_key = Ed25519PrivateKey.generate()
    return {
        "expired": jwt.encode(
            {**claims, "iat": now - 7200, "exp": now - 3600},
            issuer.keys.private_key,
            algorithm="EdDSA",
            headers={"kid": issuer.keys.kid},
        ),
        "wrong audience": issuer.token("acme", ["crm:read"], audience=AUDIENCE.replace("8701", "9999")),
        "wrong issuer": jwt.encode(
            {**claims, "iss": "http://127.0.0.1:9/evil"},
            issuer.keys.private_key,
            algorithm="EdDSA",
            headers={"kid": issuer.keys.kid},
        ),
        "bad signature": jwt.encode(claims, other_key, algorithm="EdDSA", headers={"kid": issuer.keys.kid}),
        "alg none": jwt.encode(claims, None, algorithm="none", headers={"kid": issuer.keys.kid}),
        "HS256 with the public key": hs256_with_public_key(claims, issuer),
        "not yet valid": jwt.encode(
            {**claims, "nbf": now + 3600}, issuer.keys.private_key, algorithm="EdDSA", headers={"kid": issuer.keys.kid}
        ),
        "no tenant": jwt.encode(
            {k: v for k, v in claims.items() if k != "tenant"},
            issuer.keys.private_key,
            algorithm="EdDSA",
            headers={"kid": issuer.keys.kid},
        ),
        "garbage": "not.a.jwt",
    }


async def test_missing_or_bad_tokens_get_401_with_resource_metadata(running: Running, issuer: Issuer) -> None:
    cases: dict[str, str | None] = {"no token": None, **forged_tokens(issuer, running)}
    for label, tok in cases.items():
        response = await post(running.url, tok, CALL)
        assert response.status_code == 401, label
        challenge = response.headers["www-authenticate"]
        assert ('error="invalid_token"' in challenge) == (tok is not None), label  # RFC 6750 §3.1: none if no token
        assert "resource_metadata=" in challenge and "/.well-known/oauth-protected-resource/mcp" in challenge
    audit = await running.audit()
    assert [(a.outcome, a.code, a.tenant_id) for a in audit] == [("denied", "unauthenticated", None)] * len(cases)


async def test_protected_resource_metadata_is_published(running: Running) -> None:
    async with httpx2.AsyncClient() as http:
        base = running.url.removesuffix("/mcp")
        response = await http.get(f"{base}/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 200
    assert response.json()["resource"] == running.url


async def test_missing_scope_is_403_insufficient_scope_and_audited(running: Running, issuer: Issuer) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "issue_credit", "arguments": {"account_id": "A-1", "amount_cents": 100, "reason": "x"}},
    }
    response = await post(running.url, token(issuer, running), body)
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="crm:credit"' in challenge
    assert response.json()["id"] == 2
    assert response.json()["error"]["data"] == {
        "code": "insufficient_scope",
        "message": "tool 'issue_credit' needs scope 'crm:credit'",
        "required_scope": "crm:credit",
    }
    [row] = await running.audit()
    assert (row.tenant_id, row.tool, row.outcome, row.code) == ("acme", "issue_credit", "denied", "insufficient_scope")
    with running.server.db.admin_session() as session:
        from mcp_servers.crm import CreditRow

        assert session.exec(select(CreditRow)).all() == []


async def test_oversized_request_is_413_with_a_clear_error(running: Running, issuer: Issuer) -> None:
    body = {**CALL, "params": {"name": "log_interaction", "arguments": {"account_id": "A-1", "summary": "x" * 20_000}}}
    response = await post(running.url, token(issuer, running, scopes=("crm:write",)), body)
    assert response.status_code == 413
    assert response.json()["error"]["data"]["code"] == "request_too_large"
    assert "8192" in response.json()["error"]["message"]


async def test_sdk_client_surfaces_the_403_as_an_error_with_its_code(running: Running, issuer: Issuer) -> None:
    headers = {"Authorization": f"Bearer {token(issuer, running)}"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(running.url, http_client=http)) as client,
    ):
        with pytest.raises(MCPError) as info:
            await client.call_tool("issue_credit", {"account_id": "A-1", "amount_cents": 100, "reason": "x"})
    assert info.value.error.data["code"] == "insufficient_scope"
    assert info.value.error.data["required_scope"] == "crm:credit"


async def test_malformed_json_is_a_clear_protocol_error(running: Running, issuer: Issuer) -> None:
    response = await post(running.url, token(issuer, running), b"{not json")
    assert response.status_code == 400
    assert "error" in response.json()


async def test_keyed_write_replayed_over_http_is_written_once(running: Running, issuer: Issuer) -> None:
    headers = {"Authorization": f"Bearer {token(issuer, running, scopes=('crm:read', 'crm:write'))}"}
    args = {"account_id": "A-1", "summary": "Called about invoice"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(running.url, http_client=http)) as client,
    ):
        first = await client.call_tool("log_interaction", args, meta={"deskhand/idempotency-key": "run-1:step-3"})
        again = await client.call_tool("log_interaction", args, meta={"deskhand/idempotency-key": "run-1:step-3"})
        assert first.structured_content == again.structured_content
        other = await client.call_tool(
            "log_interaction", {**args, "summary": "other"}, meta={"deskhand/idempotency-key": "run-1:step-3"}
        )
        assert other.is_error and other.structured_content is not None
        assert other.structured_content["code"] == "idempotency_conflict"
        items = await client.call_tool("list_interactions", {"account_id": "A-1"})
        assert items.structured_content is not None and len(items.structured_content["items"]) == 1
    outcomes = [(a.tool, a.outcome, a.code) for a in await running.audit()]
    assert outcomes == [
        ("log_interaction", "allowed", None),
        ("log_interaction", "allowed", None),
        ("log_interaction", "failed", "idempotency_conflict"),
        ("list_interactions", "allowed", None),
    ]
