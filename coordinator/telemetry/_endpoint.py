"""The coordinator's `/metrics`: its own metrics (every process of the directory's, in multiprocess mode) and the
store's gauges, for a token of the HTTP API's audience bound to every tenant with an API role or `metrics`. The
API serves it beside its endpoints; `deskhand work --metrics HOST:PORT` serves it alone, from a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from coordinator.store import Store
from coordinator.telemetry._gauges import StoreGauges
from coordinator.telemetry._metrics import CoordinatorMetrics
from mcp_servers.kit import METRICS_ROLE, Exposition, JwtVerifier, MetricsEndpoint, all_tenants_token, listening
from schemas import ConfigError


def metrics_route(
    metrics: CoordinatorMetrics,
    store: Store,
    daily_limits: Callable[[], Mapping[str, float]],
    verifier: JwtVerifier,
    roles: Collection[str],
) -> Route:
    """`GET /metrics` for a token `verifier` accepts, bound to every tenant, with one of `roles` or `metrics`."""
    exposition = Exposition(metrics.registry, [StoreGauges(store, daily_limits)])
    return MetricsEndpoint(exposition, all_tenants_token(verifier, [*roles, METRICS_ROLE])).route()


def metrics_address(address: str) -> tuple[str, int]:
    """`--metrics HOST:PORT` as (host, port), or a `ConfigError` naming the option."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"--metrics {address!r}: expected HOST:PORT such as 127.0.0.1:9464", field="metrics")
    return host, int(port)


@contextmanager
def serving_metrics(route: Route, address: str) -> Iterator[str]:
    """Serve `route` alone at `address` (HOST:PORT) from a thread of its own until the block ends (a thread: the
    worker's event loop and signal handling stay its own); yields the URL of `/metrics`."""
    host, port = metrics_address(address)
    sock = listening(host, port, field="metrics")
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[route]), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=anyio.run, args=(lambda: server.serve(sockets=[sock]),), name="metrics")
    thread.start()
    try:
        yield f"http://{host}:{sock.getsockname()[1]}/metrics"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
