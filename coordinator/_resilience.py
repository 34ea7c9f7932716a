"""Resilience as toolbox wrappers: per-call timeouts, retries with backoff, a circuit breaker per server.

Each wrapper is a `WrapperToolbox` around a `Toolbox`, so the guarded toolbox stays plain. The coordinator
composes them in this order (outermost first):

    BreakerToolbox(RetryingToolbox(TimeoutToolbox(McpToolbox)))

- `TimeoutToolbox` is innermost, so every attempt gets its own deadline (a hung attempt does not
  eat the time of the next one) and a timeout is an `Unavailable` the layers above understand.
- `RetryingToolbox` retries reads and keyed writes on `Unavailable`, `RateLimited` and `ToolOutputInvalid`
  (an answer outside the tool's output schema: a keyed write is answered from its record the second time)
  only, with full-jitter exponential backoff, or the server's `retry_after` (capped by `max_delay`).
- `BreakerToolbox` is outermost: while a server's circuit is open a call fails fast without
  sleeping through retries; the breaker counts logical calls (one failure = all attempts failed),
  and its own "circuit is open" error is never retried.

A server that did not answer (its circuit open, a call timed out, or the transport failed: a
JSON-RPC error without an error payload) is a `ServerUnavailable` naming it when it leaves
`BreakerToolbox`: the runtime waits such an outage out (`RuntimeSettings.outage_window_seconds`)
instead of spending the handoff's attempts inside it. An `unavailable` the server answered (a tool's
error payload) stays a plain `Unavailable`, retried within the attempts.

A `CircuitBreaker` is per server and shared by every toolbox that reaches that server; it only
counts `Unavailable` as a failure: any other answer, even `not_found` or `rate_limited`, shows the
server is up. All state changes happen between awaits of one event loop, so no lock is needed.

`UnreachableAs503` is an httpx transport for the MCP clients: the MCP SDK lets a refused connection
escape into the transport's task group, cancelling the caller instead of failing the call
(modelcontextprotocol/python-sdk#3560). Answering it as an HTTP 503 turns it into a JSON-RPC error,
which `McpToolbox` raises as `Unavailable`, and keeps the session usable once the server is back.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import anyio
import httpx2
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel

from schemas import DeskhandError, RateLimited, ToolOutputInvalid, ToolSpec, Unavailable
from specialists.kit import Toolbox, WrapperToolbox

Sleep = Callable[[float], Awaitable[object]]
RETRIED = (Unavailable, RateLimited, ToolOutputInvalid)
"""The errors after which a read or a keyed write is tried again."""
BreakerState = Literal["closed", "open", "half_open"]


class ServerUnavailable(Unavailable):
    """A server did not answer (refused, timed out, or its circuit is open): `server` names it."""

    def __init__(self, message: str, *, server: str, retry_after: float | None = None) -> None:
        super().__init__(message, field=server, retry_after=retry_after)
        self.server = server


class TimeoutToolbox(WrapperToolbox):
    """Each call must finish within `seconds`, or it raises `Unavailable`."""

    def __init__(self, inner: Toolbox, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError(f"seconds must be > 0, not {seconds}")
        super().__init__(inner)
        self._seconds = seconds

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        with anyio.move_on_after(self._seconds):
            return await self.inner.call(spec, args, key=key)
        raise ServerUnavailable(f"{spec.qualified_name} timed out after {self._seconds:g}s", server=spec.server)


class RetryingToolbox(WrapperToolbox):
    """Retries reads and keyed writes that failed with `Unavailable`, `RateLimited` or `ToolOutputInvalid`, at most
    `attempts` tries.

    An unkeyed write is tried once: it may have happened even if the answer was lost. Before try n+1
    it sleeps `random() * min(max_delay, base_delay * 2**n)` (full jitter), or the error's
    `retry_after` capped by `max_delay` when the server gave one.
    """

    def __init__(
        self,
        inner: Toolbox,
        *,
        attempts: int = 3,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Sleep = anyio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if attempts < 1 or base_delay < 0 or max_delay < 0:
            raise ValueError("attempts must be >= 1, and base_delay and max_delay >= 0")
        super().__init__(inner)
        self._attempts = attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._random = random

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        if spec.side_effect == "write" and key is None:
            return await self.inner.call(spec, args, key=key)
        attempt = 0
        while True:
            try:
                return await self.inner.call(spec, args, key=key)
            except RETRIED as exc:
                if attempt + 1 >= self._attempts:
                    raise
                delay = self._delay(attempt, exc.retry_after)
            await self._sleep(delay)
            attempt += 1

    def _delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (0 for the first)."""
        if retry_after is not None:
            return min(self._max_delay, retry_after)
        return self._random() * min(self._max_delay, self._base_delay * 2.0**attempt)


@dataclass(frozen=True)
class BreakerStatistics:
    state: BreakerState
    consecutive_failures: int
    calls: int
    """Calls let through to the server."""
    failures: int
    """Calls that ended in `Unavailable`."""
    rejected: int
    """Calls failed fast because the circuit was open (or half-open with its trial in flight)."""
    opened: int
    """Times the circuit opened."""


class CircuitBreaker:
    """Closed; open after `failure_threshold` consecutive `Unavailable`s; after `reset_after` seconds
    half-open, letting one trial call through: an answer closes it, `Unavailable` opens it again."""

    def __init__(
        self, *, failure_threshold: int = 5, reset_after: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if failure_threshold < 1 or reset_after <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_after > 0")
        self._threshold = failure_threshold
        self._reset_after = reset_after
        self._clock = clock
        self._state: BreakerState = "closed"
        self._opened_at = 0.0
        self._trial_in_flight = False
        self._consecutive = self._calls = self._failures = self._rejected = self._opened = 0

    @property
    def state(self) -> BreakerState:
        if self._state == "open" and self._clock() - self._opened_at >= self._reset_after:
            return "half_open"
        return self._state

    @property
    def opened(self) -> int:
        """Times the circuit opened (as in `statistics()`, without building them)."""
        return self._opened

    def statistics(self) -> BreakerStatistics:
        return BreakerStatistics(
            self.state, self._consecutive, self._calls, self._failures, self._rejected, self._opened
        )

    @contextmanager
    def guard(self, server: str) -> Iterator[None]:
        """Let one call to `server` through, or raise `Unavailable` at once; record how the call ended."""
        trial = self._admit(server)
        healthy: bool | None = None
        try:
            yield
            healthy = True
        except Unavailable:
            healthy = False
            raise
        except DeskhandError:
            healthy = True  # the server answered
            raise
        finally:
            self._record(healthy, trial=trial)

    def _admit(self, server: str) -> bool:
        """True when the call admitted is the half-open trial."""
        state = self.state
        if state == "open" or (state == "half_open" and self._trial_in_flight):
            self._rejected += 1
            if self._trial_in_flight:
                raise ServerUnavailable(
                    f"circuit for {server} is half-open and its trial call is in flight", server=server
                )
            wait = self._reset_after - (self._clock() - self._opened_at)
            raise ServerUnavailable(
                f"circuit for {server} is open; retry in {wait:.1f}s", server=server, retry_after=wait
            )
        self._calls += 1
        if state == "half_open":
            self._state = "half_open"
            self._trial_in_flight = True
            return True
        return False

    def _record(self, healthy: bool | None, *, trial: bool) -> None:
        if healthy is False:
            self._failures += 1
        if trial:
            self._trial_in_flight = False
            if healthy is True:
                self._state, self._consecutive = "closed", 0
            elif healthy is False:
                self._open()
            # None (cancelled, or a bug): still half-open, and the next call is the trial
        elif healthy is not None and self._state == "closed":  # a call let in before the circuit opened moves nothing
            self._consecutive = 0 if healthy else self._consecutive + 1
            if self._consecutive >= self._threshold:
                self._open()

    def _open(self) -> None:
        self._state = "open"
        self._opened_at = self._clock()
        self._opened += 1


class BreakerToolbox(WrapperToolbox):
    """Calls go through the circuit breaker of their tool's server.

    `breakers` is shared by every toolbox that reaches those servers (the coordinator keeps one dict);
    a server's breaker is made with `new_breaker` on its first call.
    """

    def __init__(
        self,
        inner: Toolbox,
        breakers: MutableMapping[str, CircuitBreaker],
        *,
        new_breaker: Callable[[], CircuitBreaker] = CircuitBreaker,
    ) -> None:
        super().__init__(inner)
        self._breakers = breakers
        self._new_breaker = new_breaker

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        if spec.qualified_name not in self.inner.available:  # refused without reaching a server
            return await self.inner.call(spec, args, key=key)
        breaker = self._breakers.get(spec.server)
        if breaker is None:
            breaker = self._breakers[spec.server] = self._new_breaker()
        try:
            with breaker.guard(spec.server):
                return await self.inner.call(spec, args, key=key)
        except ServerUnavailable:
            raise
        except Unavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, MCPError) and not isinstance(cause.error.data, dict):  # not an answer: transport
                raise ServerUnavailable(exc.message, server=spec.server, retry_after=exc.retry_after) from exc
            raise


class UnreachableAs503(httpx2.AsyncBaseTransport):
    """An httpx transport that answers a request it cannot deliver (refused, reset, timed out) with a 503."""

    def __init__(self, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self._inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await self._inner.handle_async_request(request)
        except httpx2.TransportError as exc:
            return httpx2.Response(503, request=request, text=f"{type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        await self._inner.aclose()
