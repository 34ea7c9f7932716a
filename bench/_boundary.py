"""The price of the boundary: a guarded read (token, scope, tenant-bound SQL, audit) against a bare MCP SDK
tool running the same SQL, over streamable HTTP (servers as processes) and in memory."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench._serve import ISSUER, bare_server
from coordinator._tokens import DevKeys, TokenIssuer
from coordinator.cli._processes import free_port
from mcp_servers import crm
from mcp_servers.kit import BoundarySettings, Database, JwtVerifier, KeySet, StaticCredential
from schemas import load_tenant_file

REPO = Path(__file__).resolve().parent.parent
EMAIL = "priya.raman@brightloop.example.com"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def _sequential(call: Callable[[], Awaitable[Any]], n: int) -> dict[str, float]:
    for _ in range(max(5, n // 10)):
        await call()
    latencies = []
    started = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - started
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "calls_per_s": n / wall,
    }


async def _concurrent(open_client: Callable[[], Any], sessions: int, n: int) -> float:
    """Calls per second with `sessions` clients calling at once, `n` calls in all."""
    per = max(1, n // sessions)

    async def one(client: Client) -> None:
        for _ in range(per):
            await client.call_tool("find_customer", {"email": EMAIL})

    async with open_client() as first:
        await first.call_tool("find_customer", {"email": EMAIL})
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(sessions):

            async def session() -> None:
                async with open_client() as client:
                    await one(client)

            tg.start_soon(session)
    return per * sessions / (time.perf_counter() - started)


def _setup(directory: Path) -> tuple[str, DevKeys]:
    db_url = f"sqlite:///{directory / 'crm.db'}"
    server = crm.build_server(Database(db_url))
    server.create_tables()
    crm.seed(server.db, load_tenant_file(REPO / "examples" / "tenants" / "acme.yaml"))
    server.db.dispose()
    keys = DevKeys.create(directory / "keys")
    return db_url, keys


@asynccontextmanager
async def _process(kind: str, db_url: str, keys_dir: Path) -> AsyncIterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "bench._serve", kind, str(port), db_url, str(keys_dir / "jwks.json")]
    url = f"http://127.0.0.1:{port}/mcp"
    async with await anyio.open_process(command, cwd=REPO, stdout=None, stderr=None) as process:
        try:
            async with httpx2.AsyncClient() as http:
                with anyio.fail_after(30):
                    while True:  # start-up: wait until the server answers
                        try:
                            await http.post(url, content=b"{}")
                            break
                        except httpx2.TransportError:
                            await anyio.sleep(0.05)
            yield url
        finally:
            process.terminate()
            await process.wait()


async def run(size: str) -> dict[str, Any]:
    n = {"tiny": 30, "small": 300, "full": 2000}[size]
    concurrency = [1, 8] if size == "tiny" else [1, 8, 32]
    repeats = 1 if size == "tiny" else 3
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="deskhand-bench-") as tmp:
        directory = Path(tmp)
        db_url, keys = _setup(directory)
        issuer = TokenIssuer(keys, issuer=ISSUER)

        # In memory: the same process, the SDK's in-memory transport.
        bare = bare_server(Database(db_url))
        guarded = crm.build_server(Database(db_url), BoundarySettings(rate_per_second=1e9, burst=10**9))
        verifier = JwtVerifier(KeySet(keys.jwks(), source="bench"), issuer=ISSUER, audience="urn:bench")
        credential = await StaticCredential.verify(
            verifier, issuer.mint(tenant="acme", scopes=["crm:read"], audience="urn:bench")
        )
        memory: dict[str, list[dict[str, float]]] = {"bare": [], "guarded": []}
        for _ in range(repeats):
            for kind, mcp in (("bare", bare), ("guarded", guarded.mcp_server(credential=credential))):
                async with Client(mcp) as client:
                    memory[kind].append(
                        await _sequential(lambda c=client: c.call_tool("find_customer", {"email": EMAIL}), n)
                    )
        out["in_memory"] = _summarise(memory)

        # Over HTTP: each server its own process on 127.0.0.1.
        http: dict[str, list[dict[str, float]]] = {"bare": [], "guarded": []}
        throughput: dict[str, dict[int, list[float]]] = {
            "bare": {c: [] for c in concurrency},
            "guarded": {c: [] for c in concurrency},
        }
        for kind in ("bare", "guarded"):
            async with _process(kind, db_url, directory / "keys") as url:
                token = issuer.mint(tenant="acme", scopes=["crm:read"], audience=url)
                headers = {"Authorization": f"Bearer {token}"} if kind == "guarded" else {}

                @asynccontextmanager
                async def open_client(h: dict[str, str] = headers, u: str = url) -> AsyncIterator[Client]:
                    async with (
                        httpx2.AsyncClient(headers=h) as client_http,
                        Client(streamable_http_client(u, http_client=client_http)) as client,
                    ):
                        yield client

                for _ in range(repeats):
                    async with open_client() as client:
                        http[kind].append(
                            await _sequential(lambda c=client: c.call_tool("find_customer", {"email": EMAIL}), n)
                        )
                    for sessions in concurrency:
                        throughput[kind][sessions].append(await _concurrent(open_client, sessions, n))
        out["http"] = _summarise(http)
        out["http_throughput"] = {
            str(s): {
                "bare_calls_per_s": statistics.median(throughput["bare"][s]),
                "guarded_calls_per_s": statistics.median(throughput["guarded"][s]),
                "ratio_guarded_to_bare": statistics.median(throughput["guarded"][s])
                / statistics.median(throughput["bare"][s]),
            }
            for s in concurrency
        }
    return out


def _summarise(runs: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    return {
        "bare": {k: med("bare", k) for k in ("p50_ms", "p99_ms", "calls_per_s")},
        "guarded": {k: med("guarded", k) for k in ("p50_ms", "p99_ms", "calls_per_s")},
        "ratio_p50_guarded_to_bare": med("guarded", "p50_ms") / med("bare", "p50_ms"),
        "min_max_guarded_p50_ms": [
            min(r["p50_ms"] for r in runs["guarded"]),
            max(r["p50_ms"] for r in runs["guarded"]),
        ],
        "runs": len(runs["guarded"]),
    }
