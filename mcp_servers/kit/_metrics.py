"""Prometheus metrics: a guarded server's own (`ServerMetrics`), and the `/metrics` endpoint every deskhand
process serves (`MetricsEndpoint`), behind a bearer token.

Label values are bounded: a tool the server does not serve is `(unknown)`, a tenant comes only from a verified
token, a code or reason from a fixed set. Nothing a caller writes (arguments, an unknown tool's name, a token's
text) becomes a label.

With `PROMETHEUS_MULTIPROC_DIR` set in the environment (before the process starts), prometheus-client keeps
each process's values in files there and a scrape of any process of the directory sums them all
(prometheus-client's multiprocess mode): give each deployed unit (the coordinator's workers and API, each
server) a directory of its own, emptied when the unit starts.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, Final

import anyio
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_servers.kit._jwt import JwtVerifier
from schemas import Claims, DeskhandError, InsufficientScope, Unauthenticated

MULTIPROCESS_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
METRICS_ROLE: Final = "metrics"
"""The role a token needs to read a server's `/metrics` (with `deskhand/all_tenants`: the figures span tenants)."""
UNKNOWN: Final = "(unknown)"

LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds: from a sub-millisecond read on SQLite to a slow hosted model's answer."""


def multiprocess() -> bool:
    """Whether this process runs in prometheus-client's multiprocess mode (see the module docstring)."""
    return MULTIPROCESS_ENV in os.environ or MULTIPROCESS_ENV.lower() in os.environ


class Exposition:
    """What a `/metrics` scrape reads: the metrics of `registry` (in multiprocess mode: of every process of the
    directory instead), and `collectors` read at scrape time (figures of a store, say)."""

    def __init__(self, registry: CollectorRegistry, collectors: Sequence[Collector] = ()) -> None:
        self._registry = registry
        self._collectors = list(collectors)
        if not multiprocess():
            for collector in self._collectors:
                registry.register(collector)

    def render(self) -> bytes:
        if not multiprocess():
            return generate_latest(self._registry)
        registry = CollectorRegistry()  # per scrape, as prometheus-client's multiprocess mode asks
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        for collector in self._collectors:
            registry.register(collector)
        return generate_latest(registry)


Authorize = Callable[[str], Awaitable[None]]
"""Checks a bearer token (its text); raises `Unauthenticated` (401) or `InsufficientScope` (403)."""


class MetricsEndpoint:
    """A Starlette endpoint serving an `Exposition` in Prometheus' text format to a caller whose bearer token
    `authorize` accepts; a missing or refused token is 401 with `WWW-Authenticate: Bearer`, a token without the
    right is 403. The answer is rendered in a worker thread (collectors may query a database)."""

    def __init__(self, exposition: Exposition, authorize: Authorize) -> None:
        self.exposition = exposition
        self.authorize = authorize

    def route(self, path: str = "/metrics") -> Route:
        return Route(path, self.respond, methods=["GET"], name="metrics")

    async def respond(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("send the scrape token as 'Authorization: Bearer <token>'")
            await self.authorize(token.strip())
        except DeskhandError as exc:
            status = 403 if isinstance(exc, InsufficientScope) else 401
            headers = {"www-authenticate": 'Bearer realm="metrics"'} if status == 401 else {}
            return JSONResponse(exc.to_payload().model_dump(exclude_none=True), status_code=status, headers=headers)
        body = await anyio.to_thread.run_sync(self.exposition.render)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


def all_tenants_token(verifier: JwtVerifier, roles: Collection[str]) -> Authorize:
    """An `Authorize` for a token that `verifier` accepts (signature, issuer, this audience, dates), bound to every
    tenant (`deskhand/all_tenants`: the figures span tenants) and holding one of `roles`."""

    async def authorize(token: str) -> None:
        claims = await verifier.verified_claims(token)
        if claims.get(Claims.ALL_TENANTS) is not True:
            raise InsufficientScope(
                "the metrics span every tenant: a tenant's token cannot read them", required="deskhand/all_tenants"
            )
        held = claims.get(Claims.ROLES)
        if not isinstance(held, list) or not any(role in held for role in roles):
            raise InsufficientScope(
                f"reading the metrics needs one of the roles {sorted(roles)}", required=" ".join(sorted(roles))
            )

    return authorize


class ServerMetrics:
    """A guarded server's metrics: its tool calls' latency and outcome, the calls it denied, the tokens it refused,
    and the keyed writes it answered from their record instead of writing again."""

    def __init__(self, server: str, tools: Collection[str], registry: CollectorRegistry | None = None) -> None:
        self.server = server
        self._tools = tools
        """The tools the server serves (read at each call: tools are added after the server is made)."""
        self.registry = registry or CollectorRegistry()
        labels = ["server"]
        self._calls = Histogram(
            "deskhand_server_tool_seconds",
            "Tool calls the server answered, by tool and outcome (allowed, failed, denied), and how long they took.",
            [*labels, "tool", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._denied = Counter(
            "deskhand_denied_calls",
            "Tool calls the server refused before running them, by tenant (empty: no verified token), tool and "
            "error code.",
            [*labels, "tenant", "tool", "code"],
            registry=self.registry,
        )
        self._refused = Counter(
            "deskhand_token_refusals",
            "Requests whose bearer token the server refused (HTTP 401), by reason.",
            [*labels, "reason"],
            registry=self.registry,
        )
        self._replayed = Counter(
            "deskhand_idempotent_replays",
            "Keyed writes answered from their idempotency record instead of being written again, by tool.",
            [*labels, "tool"],
            registry=self.registry,
        )

    def tool(self, name: Any) -> str:
        """`name` as a label value: one of the server's tools, else `(unknown)`."""
        return name if isinstance(name, str) and name in self._tools else UNKNOWN

    def call(self, tool: str, outcome: str, seconds: float) -> None:
        self._calls.labels(self.server, self.tool(tool), outcome).observe(seconds)

    def denied(self, tenant: str | None, tool: str, code: str) -> None:
        self._denied.labels(self.server, tenant or "", self.tool(tool), code).inc()

    def token_refused(self, reason: str) -> None:
        self._refused.labels(self.server, reason).inc()

    def replayed(self, tool: str) -> None:
        self._replayed.labels(self.server, self.tool(tool)).inc()
