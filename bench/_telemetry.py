"""The telemetry a benchmark runs with (`python -m bench ... --telemetry off|metrics|traces`), so that its price is
measured as the figures around it are:

- `off`: as a worker started without `--metrics` (the servers count their own metrics always: they are a few
  counters, and their price is in every figure);
- `metrics`: the coordinator counts its Prometheus metrics too, as `deskhand work --metrics` or the API does;
- `traces`: metrics, and every process exports each span at 100% sampling over OTLP/HTTP to a sink on 127.0.0.1
  that this process serves (it answers and keeps nothing): the price of making, encoding and sending them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import anyio
import uvicorn
from opentelemetry import trace
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_servers.kit import listening

Telemetry = Literal["off", "metrics", "traces"]
MODES: tuple[Telemetry, ...] = ("off", "metrics", "traces")

active: Telemetry = "off"
"""The mode of the `telemetry` block the benchmarks run in."""


async def _accept(request: Request) -> Response:
    await request.body()
    return Response(b"", media_type="application/x-protobuf")  # an empty ExportTraceServiceResponse


@contextmanager
def telemetry(mode: Telemetry) -> Iterator[None]:
    """`mode` for this process and the server processes it starts, until the block ends."""
    global active
    active = mode
    if mode != "traces":
        try:
            yield
        finally:
            active = "off"
        return
    sock = listening("127.0.0.1", 0)
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/v1/traces", _accept, methods=["POST"])]), log_level="warning")
    )
    thread = threading.Thread(target=anyio.run, args=(lambda: server.serve(sockets=[sock]),), name="otlp-sink")
    thread.start()
    saved = dict(os.environ)
    os.environ.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{sock.getsockname()[1]}",
        OTEL_TRACES_SAMPLER="always_on",
    )
    try:
        yield
    finally:
        flush = getattr(trace.get_tracer_provider(), "force_flush", None)
        if flush is not None:  # this process's spans reach the sink while it still answers
            flush()
        active = "off"
        os.environ.clear()
        os.environ.update(saved)
        server.should_exit = True
        thread.join()
        sock.close()
