"""The kit's `Upstream`: a guarded tool calling an HTTP API served on 127.0.0.1 by this test (uvicorn, in a thread),
through a real MCP client: the tenant carried from the token, statuses mapped to error codes, retries only where
they are safe, path segments quoted."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_servers.kit import (
    Database,
    GuardedServer,
    TenantSession,
    TenantUpstream,
    Upstream,
    listening,
    tenant_upstreams,
)
from schemas import META_IDEMPOTENCY_KEY, ConfigError, Input, Output, ToolSpec
from tests.conftest import Issuer, connect
from tests.mcp_servers.helpers import error_code, ok

pytestmark = pytest.mark.anyio


class PathIn(Input):
    path: str


class Answer(Output):
    data: dict[str, object]


FETCH = ToolSpec(server="api", name="fetch", title="Fetch", description="GET a path.", scope="api:read",
                 side_effect="read", input=PathIn, output=Answer)  # fmt: skip
SUBMIT = ToolSpec(server="api", name="submit", title="Submit", description="POST a path.", scope="api:write",
                  side_effect="write", input=PathIn, output=Answer)  # fmt: skip
SEGMENT = ToolSpec(server="api", name="segment", title="Segment", description="GET /echo/{id}.", scope="api:read",
                   side_effect="read", input=PathIn, output=Answer)  # fmt: skip


class Api:
    """The upstream: counts each path's requests; `/status/N` answers N; `/flaky/N/LABEL` fails N times with 503, then
    answers; `/slow` answers when the test ends."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.seen: list[dict[str, str]] = []
        self.release = threading.Event()

        async def status(request: Request) -> JSONResponse:
            code = int(request.path_params["code"])
            headers = {"Retry-After": "2"} if code in (429, 503) else {}
            return JSONResponse({"secret": "another tenant's words"}, code, headers=headers)

        async def flaky(request: Request) -> JSONResponse:
            self.hits[request.url.path] += 1
            self.seen.append(dict(request.headers))
            if self.hits[request.url.path] <= int(request.path_params["times"]):
                return JSONResponse({}, 503)
            return JSONResponse({"tries": self.hits[request.url.path]})

        async def echo(request: Request) -> JSONResponse:
            self.seen.append(dict(request.headers))
            raw = request.scope["raw_path"].decode()  # as sent, before any decoding
            return JSONResponse({"path": raw, "tenant": request.headers.get("x-tenant")})

        async def slow(request: Request) -> JSONResponse:
            await anyio.to_thread.run_sync(self.release.wait)
            return JSONResponse({})

        self.app = Starlette(
            routes=[
                Route("/status/{code}", status, methods=["GET", "POST"]),
                Route("/flaky/{times}/{label}", flaky, methods=["GET", "POST"]),
                Route("/echo/{id:path}", echo),
                Route("/slow", slow),
            ]
        )


@pytest.fixture
def api() -> Iterator[tuple[Api, str]]:
    upstream = Api()
    sock = listening("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(upstream.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=anyio.run, args=(lambda: server.serve(sockets=[sock]),), name="upstream")
    thread.start()
    try:
        yield upstream, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        upstream.release.set()
        server.should_exit = True
        thread.join()
        sock.close()


@pytest.fixture
async def server(api: tuple[Api, str], tmp_path: Path) -> AsyncIterator[GuardedServer]:
    _, url = api
    tenants = {"acme": TenantUpstream(url, token="acme-secret", headers={"X-Tenant": "acme"})}
    upstream = Upstream(tenants, name="test-api", timeout=0.5, attempts=3, backoff=0.0)
    server = GuardedServer("api", db=Database(f"sqlite:///{tmp_path / 'api.db'}"))

    def fetch(args: PathIn, _: TenantSession) -> Answer:
        return Answer(data=upstream.get(args.path))

    def submit(args: PathIn, _: TenantSession) -> Answer:
        return Answer(data=upstream.post(args.path, json={}))

    def segment(args: PathIn, _: TenantSession) -> Answer:
        return Answer(data=upstream.get("/echo/{id}", id=args.path))

    for spec, handler in ((FETCH, fetch), (SUBMIT, submit), (SEGMENT, segment)):
        server.add_tool(spec, handler, blocking=True)
    server.create_tables()
    yield server
    await upstream.aclose()
    server.db.dispose()


async def test_the_tenant_and_its_credential_come_from_the_token(
    server: GuardedServer, issuer: Issuer, api: tuple[Api, str]
) -> None:
    upstream, _ = api
    async with connect(server, issuer, "acme", ["api:read"]) as client:
        answer = ok(await client.call_tool("segment", {"path": "../admin?all=1"}))
    assert answer["data"] == {"path": "/echo/..%2Fadmin%3Fall%3D1", "tenant": "acme"}  # one segment, quoted
    assert upstream.seen[-1]["authorization"] == "Bearer acme-secret"
    async with connect(server, issuer, "northwind", ["api:read"]) as client:  # no upstream for this tenant
        assert error_code(await client.call_tool("fetch", {"path": "/echo/x"})) == "not_found"
    assert len(upstream.seen) == 1  # northwind's call never reached the upstream


@pytest.mark.parametrize(
    ("status", "code"),
    [(404, "not_found"), (409, "conflict"), (400, "invalid_argument"), (422, "invalid_argument"),
     (429, "rate_limited"), (500, "unavailable"), (401, "unavailable"), (403, "unavailable")],
)  # fmt: skip
async def test_upstream_statuses_become_error_codes(
    server: GuardedServer, issuer: Issuer, status: int, code: str
) -> None:
    async with connect(server, issuer, "acme", ["api:read", "api:write"]) as client:
        refused = await client.call_tool("submit", {"path": f"/status/{status}"})  # a POST: tried once
    assert error_code(refused) == code
    assert refused.structured_content is not None
    assert "another tenant's words" not in str(refused.structured_content)  # the upstream's body is not passed on
    if status == 429:
        assert refused.structured_content["retry_after"] == 2.0


async def test_reads_and_keyed_writes_are_retried_and_unkeyed_writes_are_not(
    server: GuardedServer, issuer: Issuer, api: tuple[Api, str]
) -> None:
    upstream, _ = api
    async with connect(server, issuer, "acme", ["api:read", "api:write"]) as client:
        assert ok(await client.call_tool("fetch", {"path": "/flaky/2/get"}))["data"] == {"tries": 3}
        assert error_code(await client.call_tool("fetch", {"path": "/flaky/5/get"})) == "unavailable"  # 3 attempts
        assert error_code(await client.call_tool("submit", {"path": "/flaky/2/post"})) == "unavailable"
        keyed = await client.call_tool("submit", {"path": "/flaky/2/keyed"}, meta={META_IDEMPOTENCY_KEY: "k-1"})
    assert upstream.hits == {"/flaky/2/get": 3, "/flaky/5/get": 3, "/flaky/2/post": 1, "/flaky/2/keyed": 3}
    assert ok(keyed)["data"] == {"tries": 3}
    assert upstream.seen[-1]["idempotency-key"] == "k-1"  # the upstream can answer a repeat with what it did


async def test_a_timeout_and_a_dead_upstream_are_unavailable(
    server: GuardedServer, issuer: Issuer, tmp_path: Path
) -> None:
    async with connect(server, issuer, "acme", ["api:read"]) as client:
        slow = await client.call_tool("fetch", {"path": "/slow"})
    assert error_code(slow) == "unavailable" and "timed out" in str(slow.structured_content)
    sock = listening("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    dead = Upstream({"acme": TenantUpstream(f"http://127.0.0.1:{port}")}, attempts=2, backoff=0.0)
    server2 = GuardedServer("api", db=Database(f"sqlite:///{tmp_path / 'dead.db'}"))
    server2.add_tool(FETCH, lambda args, _: Answer(data=dead.get(args.path)), blocking=True)
    server2.create_tables()
    async with connect(server2, issuer, "acme", ["api:read"]) as client:
        refused = await client.call_tool("fetch", {"path": "/x"})
    assert error_code(refused) == "unavailable" and "could not reach" in str(refused.structured_content)
    await dead.aclose()
    server2.db.dispose()


def test_tenant_credentials_come_from_a_file_only_its_owner_reads(tmp_path: Path) -> None:
    secrets = tmp_path / "upstream.toml"
    secrets.write_text('[tenants.acme]\ntoken = "t-acme"\n[tenants.northwind]\ntoken = "t-nw"\n'
                       'base_url = "http://127.0.0.1:9/nw"\n', encoding="utf-8")  # fmt: skip
    secrets.chmod(0o644)
    with pytest.raises(ConfigError, match=r"may be read by others \(mode 0644\): `chmod 600"):
        tenant_upstreams("http://127.0.0.1:9", secrets)
    secrets.chmod(0o600)
    found = tenant_upstreams("http://127.0.0.1:9", secrets, tenant_header="X-Tenant")
    assert found["acme"] == TenantUpstream("http://127.0.0.1:9", "t-acme", {"X-Tenant": "acme"})
    assert found["northwind"].base_url == "http://127.0.0.1:9/nw"
    assert "t-acme" not in repr(found)  # a credential is never printed
