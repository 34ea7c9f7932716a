"""Property-based fuzzing of raw HTTP/JSON-RPC frames against a real server on 127.0.0.1.

Frames are bad JSON, bytes that are not UTF-8, JSON of the wrong shape, deep nesting, batches, odd unicode (lone
surrogates, NUL, zero-width, right-to-left) in the method, tool name, arguments and `_meta`, wrong or missing
headers and content types, oversized bodies (declared and chunked), no token, forged, expired or malformed tokens
(NumericDates as strings), and the other tenant's token with this tenant's ids. After every frame:
- the reply is a 4xx (429 and 503 with Retry-After) or a 200/202 whose JSON-RPC errors have integer codes other
  than the internal error and whose tool errors have a known code; every body but a 202's is JSON;
- a 401 says `invalid_token` in WWW-Authenticate and never echoes the token;
- no row of the server's tables changed (the tokens here may only read);
- a known-good call still succeeds and gets its audit row.
The server is served once per module; one that fails a check is restarted with a fresh audit queue.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import jwt
import pytest
import uvicorn
from anyio.abc import TaskGroup
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import example, given, note
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.inbound import encode_header_value
from mcp.types import INTERNAL_ERROR
from sqlmodel import col, select

from coordinator._tokens import DevKeys
from mcp_servers import crm
from mcp_servers.kit import AuditLog, AuditRecord, BoundarySettings, Database, GuardedServer
from schemas import META_IDEMPOTENCY_KEY, META_RUN, TenantFile, load_tenant_file
from tests.conftest import EXAMPLE_TENANTS, ISSUER, Issuer
from tests.mcp_servers.fuzzing import (
    audit_count,
    check_error_payload,
    fuzz_settings,
    hostile_text,
    json_values,
    table_snapshot,
)
from tests.mcp_servers.helpers import seeded
from tests.mcp_servers.test_tenant_isolation import secrets_of

pytestmark = pytest.mark.anyio

MAX_BYTES = 8 * 1024
MODERN = "2026-07-28"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "fuzz", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
KNOWN_GOOD = ("find_customer", {"email": "nobody@example.com"})


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


class Served:
    """The CRM server over streamable HTTP on a free port, with an SDK client for the known-good call.
    (A plain class: hypothesis prints a dataclass argument field by field when it reports a failure.)"""

    def __init__(self, server: GuardedServer, issuer: Issuer, tenants: list[TenantFile], tg: TaskGroup) -> None:
        self.server = server
        self.issuer = issuer
        self.tenants = tenants
        self._tg = tg
        self.url = ""
        self.client: Client | None = None
        self.broken = False
        self.secrets = secrets_of(tenants[0])
        """What the other tenant's token must never read."""
        self.tokens: dict[str, str | None] | None = None
        """By label, minted for the current URL (the audience) when first needed."""
        self._stack = AsyncExitStack()
        self._uvicorn: uvicorn.Server | None = None
        self._stopped = anyio.Event()

    async def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)  # connections wait in the backlog until uvicorn accepts: no start-up race
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        self.tokens = None
        app = self.server.http_app(self.issuer.verifier(audience=self.url), resource_url=self.url)
        uv = self._uvicorn = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
        stopped = self._stopped = anyio.Event()

        async def serve() -> None:
            try:
                await uv.serve(sockets=[sock])
            finally:
                sock.close()
                stopped.set()

        self._tg.start_soon(serve)
        headers = {"Authorization": f"Bearer {self.token('acme')}"}
        http = await self._stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=30))
        self.client = await self._stack.enter_async_context(Client(streamable_http_client(self.url, http_client=http)))
        self.broken = False

    async def stop(self) -> None:
        await self._stack.aclose()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
            with anyio.fail_after(30):
                await self._stopped.wait()

    async def restart(self) -> None:
        """Serve again with a fresh audit queue: what a failed check left queued is dropped."""
        await self.stop()
        self.server.audit = AuditLog(self.server.db)
        await self.start()

    def token(self, tenant: str, scopes: tuple[str, ...] = ("crm:read",)) -> str:
        return self.issuer.token(tenant, scopes, audience=self.url)


@pytest.fixture(scope="module")
async def served(
    tmp_path_factory: pytest.TempPathFactory, dev_keys: DevKeys, tenants: list[TenantFile]
) -> AsyncIterator[Served]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('fuzz-http') / 'crm.db'}")
    settings = BoundarySettings(max_request_bytes=MAX_BYTES, rate_per_second=1e9, burst=10**9)
    server = seeded(crm, db, tenants, settings)
    async with anyio.create_task_group() as tg:
        running = Served(server, Issuer(dev_keys), tenants, tg)
        await running.start()
        try:
            yield running
        finally:
            await running.stop()
    db.dispose()


# -- what is sent --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    body: bytes | list[bytes]
    """The request body; a list is sent chunked, with no Content-Length."""
    headers: dict[str, str]
    token: str
    """A label of `tokens()`: who the request claims to be."""


def _jwt(dev_keys: DevKeys, claims: dict[str, Any], key: Any = None, alg: str = "EdDSA") -> str:
    return jwt.encode(claims, key or dev_keys.private_key, algorithm=alg, headers={"kid": dev_keys.kid})


def tokens(served: Served) -> dict[str, str | None]:
    """Bearer tokens by label: this tenant's, the other tenant's, and refused ones of every kind."""
    keys = served.issuer.keys
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": served.url, "sub": "fuzz", "tenant": "acme", "scope": "crm:read"}
    claims |= {"iat": now, "exp": now + 600}
    other_key = Ed25519PrivateKey.generate()
    unsigned = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).decode().rstrip("=")
    return {
        "acme": served.token("acme"),
        "other tenant": served.token(served.tenants[1].tenant),
        "none": None,
        "garbage": "not.a.jwt",
        "expired": _jwt(keys, {**claims, "iat": now - 7200, "exp": now - 3600}),
        "not yet valid": _jwt(keys, {**claims, "nbf": now + 3600}),
        "wrong audience": _jwt(keys, {**claims, "aud": "http://127.0.0.1:9/mcp"}),
        "wrong issuer": _jwt(keys, {**claims, "iss": "http://127.0.0.1:9"}),
        "other key": _jwt(keys, claims, key=other_key),
        "alg none": f"{unsigned}.{base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip('=')}.",
        "exp a string": _jwt(keys, {**claims, "exp": str(now + 600)}),
        "nbf a string": _jwt(keys, {**claims, "nbf": str(now - 10)}),
        "iat a string": _jwt(keys, {**claims, "iat": str(now)}),
        "no tenant": _jwt(keys, {k: v for k, v in claims.items() if k != "tenant"}),
        "tenant not a string": _jwt(keys, {**claims, "tenant": ["acme"]}),
    }


TOKEN_LABELS = [
    "acme",
    "other tenant",
    "none",
    "garbage",
    "expired",
    "not yet valid",
    "wrong audience",
    "wrong issuer",
    "other key",
    "alg none",
    "exp a string",
    "nbf a string",
    "iat a string",
    "no tenant",
    "tenant not a string",
]

token_labels = st.one_of(st.sampled_from(TOKEN_LABELS[:2]), st.sampled_from(TOKEN_LABELS))
"""Half the frames carry a valid token (this tenant's or the other's), so that they reach the guard."""

_ACME = load_tenant_file(EXAMPLE_TENANTS / "acme.yaml")
ACME_IDS = {
    "account_id": _ACME.customers[0].account,
    "customer_id": _ACME.customers[0].id,
    "email": _ACME.customers[0].email,
}
"""Ids of the first tenant's data, sent with its own token and with the other tenant's."""


def _dumps(value: Any) -> bytes:
    """JSON as a client would send it: lone surrogates escaped as `\\ud800`, never encoded."""
    return json.dumps(value).encode()


def _call(name: Any, arguments: Any, meta: Any, request_id: Any = 1, method: Any = "tools/call") -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": method,
        "params": {"name": name, "arguments": arguments, "_meta": meta},
    }


crm_tools = st.sampled_from(["find_customer", "get_account", "list_interactions", "log_interaction", "issue_credit"])
tool_names = st.one_of(crm_tools, hostile_text)
tool_arguments = st.one_of(
    st.fixed_dictionaries({}, optional={k: st.one_of(st.just(v), hostile_text) for k, v in ACME_IDS.items()}),
    json_values,
)
modern_meta = st.fixed_dictionaries(
    {k: st.just(v) for k, v in MODERN_META.items()},
    optional={
        META_IDEMPOTENCY_KEY: st.one_of(hostile_text, json_values),
        META_RUN: hostile_text,
        "traceparent": hostile_text,
    },
)
well_formed_calls = st.builds(_call, tool_names, tool_arguments, modern_meta, st.integers(0, 2**31))
"""`tools/call` requests of the current protocol with hostile names, arguments and `_meta`."""
calls = st.builds(
    _call,
    tool_names,
    tool_arguments,
    st.one_of(modern_meta, json_values),
    st.one_of(st.integers(), st.text(max_size=5), json_values),
    st.one_of(
        st.just("tools/call"),
        st.sampled_from(
            ["tools/list", "initialize", "ping", "notifications/initialized", "resources/list", "tools/call/x"]
        ),
        hostile_text,
    ),
)
"""JSON-RPC requests of any shape: wrong ids, methods and `_meta` too."""


JSON_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": MODERN,
}
_FIND_WITH = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"find_customer","arguments":{"email":'


def _deep(depth: int, opener: bytes, closer: bytes) -> bytes:
    return opener * depth + b"1" + closer * depth


deep = st.builds(
    lambda depth, kind: (
        _deep(depth, b"[", b"]")
        if kind == 0
        else _deep(depth, b'{"a":', b"}")
        if kind == 1
        else _FIND_WITH + _deep(depth, b"[", b"]") + b"}}}"
    ),
    st.integers(min_value=50, max_value=3_000),
    st.integers(min_value=0, max_value=2),
)

bodies = st.one_of(
    calls.map(_dumps),
    st.lists(calls, max_size=3).map(_dumps),  # batches (the empty one too)
    json_values.map(_dumps),
    deep,
    st.binary(max_size=64),
    calls.map(_dumps).flatmap(lambda b: st.integers(0, len(b) - 1).map(lambda n: b[:n])),  # truncated
    st.sampled_from(
        [
            b"",
            b"null",
            b"\xff\xfe{",
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\\ud800"}}',
            b'{"id":1,"id":2,"jsonrpc":"2.0","method":"ping"}',
            b"\x00",
            "{\u2028}".encode(),
        ]
    ),
    st.integers(MAX_BYTES + 1, 3 * MAX_BYTES).map(
        lambda n: _dumps(_call("find_customer", {"email": "x" * n}, MODERN_META))
    ),
)

header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30
).map(lambda text: text.strip(" "))
"""Any header value HTTP/1.1 can carry (visible Latin-1, inner spaces; the client refuses the rest)."""
headers = st.fixed_dictionaries(
    {
        "Content-Type": st.sampled_from(
            [
                "application/json",
                "application/json",
                "text/plain",
                "",
                "application/json; charset=latin-1",
                "multipart/form-data; boundary=x",
                "application/x-www-form-urlencoded",
            ]
        ),
        "Accept": st.sampled_from(
            [
                "application/json, text/event-stream",
                "application/json, text/event-stream",
                "application/json",
                "text/event-stream",
                "text/html",
                "*/*",
                "",
            ]
        ),
        "MCP-Protocol-Version": st.one_of(
            st.sampled_from([MODERN, MODERN, "2025-11-25", "2025-03-26", "1999-01-01"]), header_text
        ),
    },
    optional={
        "Mcp-Method": st.one_of(st.just("tools/call"), header_text),
        "Mcp-Name": st.one_of(st.just("find_customer"), header_text),
        "Mcp-Session-Id": st.one_of(st.uuids().map(str), header_text),
        "Origin": st.sampled_from(["http://evil.example", "null", "http://127.0.0.1"]),
        "Content-Encoding": st.sampled_from(["gzip", "identity"]),
    },
)


def _matched(call: dict[str, Any], base: dict[str, str], token: str) -> Frame:
    """A frame whose `Mcp-Method` and `Mcp-Name` headers agree with its body, as the SDK's client sends them,
    so that it gets past the SDK's header check to the guard."""
    headers = {**base, "MCP-Protocol-Version": MODERN}
    for header, value in (("Mcp-Method", call["method"]), ("Mcp-Name", call["params"]["name"])):
        # A lone surrogate cannot be encoded into a header at all: the frame goes without it.
        with contextlib.suppress(UnicodeEncodeError):
            if isinstance(value, str):
                headers[header] = encode_header_value(value)
    return Frame(_dumps(call), headers, token)


frames = st.one_of(
    st.builds(
        Frame,
        st.one_of(bodies, bodies.map(lambda b: [b[i : i + 1024] for i in range(0, len(b), 1024)] or [b""])),
        headers,
        token_labels,
    ),
    st.builds(_matched, well_formed_calls, st.just(JSON_HEADERS), token_labels),
)


# -- what is checked -----------------------------------------------------------------------------------------------


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def check_reply(reply: httpx2.Response, token: str | None) -> None:
    status = reply.status_code
    assert status < 500 or (status == 503 and "retry-after" in reply.headers), f"HTTP {status}: {reply.text[:300]}"
    if status == 429:
        assert "retry-after" in reply.headers
    if token:
        assert token not in reply.text and token not in str(reply.headers), "the token echoed back"
    if status == 401:
        challenge = reply.headers.get("www-authenticate", "")
        # RFC 6750 3.1: a request that sent no token gets a challenge without an error code.
        assert challenge.startswith("Bearer ") and ('error="invalid_token"' in challenge or token is None), challenge
    if status == 202:
        return
    assert reply.headers.get("content-type", "").startswith("application/json"), f"HTTP {status}: {reply.text[:300]}"
    body = reply.json()
    for message in body if isinstance(body, list) else [body]:
        assert isinstance(message, dict), body
        if "error" in message and isinstance(message["error"], dict):
            code = message["error"].get("code")
            assert isinstance(code, int) and code != INTERNAL_ERROR, f"HTTP {status}: {message}"
        elif isinstance(message.get("result"), dict) and message["result"].get("isError"):
            check_error_payload(message["result"].get("structuredContent"))
        else:
            assert status == 200 and "result" in message or "error" in message, f"HTTP {status}: {message}"


async def _known_row(served: Served) -> AuditRecord | None:
    with served.server.db.admin_session() as session:
        return session.exec(select(AuditRecord).order_by(col(AuditRecord.seq).desc()).limit(1)).first()


async def check_frame(served: Served, frame: Frame) -> None:
    note(repr(frame))  # anyio's runner hides the test's arguments from hypothesis's report
    if served.broken:
        await served.restart()
    try:
        await _check(served, frame)
    except BaseException:
        served.broken = True
        raise


async def _check(served: Served, frame: Frame) -> None:
    if served.tokens is None:
        served.tokens = tokens(served)
    token = served.tokens[frame.token]
    headers = {k: v.encode("latin-1") for k, v in frame.headers.items() if v}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}".encode()
    before = table_snapshot(served.server)
    content = _chunks(frame.body) if isinstance(frame.body, list) else frame.body
    async with httpx2.AsyncClient(timeout=30) as http:
        reply = await http.post(served.url, content=content, headers=headers)
    check_reply(reply, token)
    if frame.token == "other tenant":
        leaked = [secret for secret in served.secrets if secret in reply.text]
        assert not leaked, f"the other tenant's data in the reply: {leaked}"
    assert table_snapshot(served.server) == before, "a read-only token changed rows"
    audited = await audit_count(served.server)
    assert served.client is not None
    tool, arguments = KNOWN_GOOD
    known = await served.client.call_tool(tool, arguments)
    assert not known.is_error, f"the server stopped serving: {known}"
    assert await audit_count(served.server) == audited + 1, "the known-good call has no audit row"
    row = await _known_row(served)
    assert row is not None and (row.tool, row.outcome, row.tenant_id) == (tool, "allowed", "acme")


@pytest.mark.slow
@fuzz_settings(max_examples=250)
@given(frame=frames)
# Issue 16, finding 2: deep nesting got HTTP 500 with a traceback.
@example(frame=Frame(b"[" * 3_000 + b"]" * 3_000, JSON_HEADERS, "acme"))
@example(frame=Frame(_FIND_WITH + b"[" * 2_000 + b"]" * 2_000 + b"}}}", JSON_HEADERS, "acme"))
# Found by this test (issue 16, finding 11): a wrong content type got a plain-text 400.
@example(frame=Frame(b"[]", {**JSON_HEADERS, "Content-Type": "text/plain"}, "acme"))
# Issue 16, finding 1: a lone surrogate in the tool name of a call without a token silenced the audit.
@example(frame=Frame(_dumps(_call("\ud800", {}, MODERN_META)), {**JSON_HEADERS, "Mcp-Name": "\\ud800"}, "none"))
async def test_any_frame_gets_a_4xx_or_a_coded_json_rpc_reply_and_the_server_goes_on_serving_and_auditing(
    served: Served, frame: Frame
) -> None:
    await check_frame(served, frame)
