"""Calling an upstream HTTP API from a guarded tool: the common case of a server in front of an API you already have.

One `Upstream` per server holds one shared `httpx2.AsyncClient` (timeouts, a connection limit, kept-alive
connections), made on first use in the server's event loop. A tool registered with `blocking=True` calls
`upstream.get(...)`, `post(...)` and so on from its worker thread; the request runs on the loop. What the kit adds:

- **The tenant, from the token.** Each request goes to the calling tenant's upstream, as `TenantUpstream` says: a
  base URL, a bearer credential and headers of its own (say `X-Tenant`), looked up by the verified caller's tenant
  (`current_call()`), never from a tool argument. A tenant with no upstream configured is refused (`not_found`, as
  for data it does not have).
- **Errors in the project's codes.** 404 → `not_found`, 409 → `conflict`, 400 and 422 → `invalid_argument`, 429 →
  `rate_limited` with the upstream's `Retry-After`, 5xx, timeouts and refused connections → `unavailable`; 401 and
  403 (the upstream refused our credential: the integrator's to fix, not the caller's) → `unavailable` too, with a
  message saying so. No upstream body is passed on: it may hold another tenant's words or a stack trace.
- **Retries only where they are safe.** GET, HEAD, PUT, DELETE and OPTIONS, and a write the caller gave an
  idempotency key (sent as `Idempotency-Key`, so the upstream can answer a repeat with what it did), are tried
  again after a timeout, a refused connection, a 502/503/504 or a 429, with exponential backoff and jitter; a POST
  without a key is tried once, since the upstream may have done it.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.from_thread
import httpx2

from mcp_servers.kit._guard import current_call
from schemas import (
    ConfigError,
    Conflict,
    DeskhandError,
    InvalidArgument,
    NotFound,
    RateLimited,
    Unavailable,
    check_private,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class TenantUpstream:
    """Where one tenant's requests go, and what they carry."""

    base_url: str
    token: str | None = field(default=None, repr=False)
    """Sent as `Authorization: Bearer ...`; never logged (not in the repr either)."""
    headers: Mapping[str, str] = field(default_factory=dict)


def tenant_upstreams(
    base_url: str, secrets_file: Path, *, tenant_header: str | None = None
) -> dict[str, TenantUpstream]:
    """Each tenant's upstream from a secrets file only its owner may read (mode 0600), TOML:

        [tenants.TENANT]
        token = "..."                                  # the tenant's credential at the upstream
        base_url = "https://orders.example/TENANT/api"  # optional: this tenant's own base URL

    `tenant_header` (say `X-Tenant`) also names the tenant in a header of every request."""
    check_private(secrets_file, "secrets_file")
    try:
        data = tomllib.loads(secrets_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{secrets_file} cannot be read as TOML: {exc}", field="secrets_file") from None
    found: dict[str, TenantUpstream] = {}
    for tenant, entry in (data.get("tenants") or {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("token", ""), str):
            raise ConfigError(
                f"{secrets_file}: tenants.{tenant}: expected a table with a token", field=f"tenants.{tenant}"
            )
        headers = {tenant_header: tenant} if tenant_header else {}
        found[tenant] = TenantUpstream(str(entry.get("base_url") or base_url), entry.get("token") or None, headers)
    return found


class Upstream:
    """An upstream HTTP API shared by a server's tools (see the module's docstring)."""

    def __init__(
        self,
        tenants: Callable[[str], TenantUpstream | None] | Mapping[str, TenantUpstream],
        *,
        name: str = "upstream",
        timeout: float = 10.0,
        max_connections: int = 32,
        attempts: int = 3,
        backoff: float = 0.1,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        """`tenants`: each tenant's `TenantUpstream` (a mapping, or a function of the tenant id); `name` says which
        upstream in messages; `attempts` counts the first try; `backoff` is the first wait in seconds, doubled each
        try (with jitter), or the upstream's `Retry-After` when it gives one (up to 30 s)."""
        self._tenants = tenants.get if isinstance(tenants, Mapping) else tenants
        self.name = name
        self._timeout = httpx2.Timeout(timeout)
        self._limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._transport = transport
        self._client: httpx2.AsyncClient | None = None

    # -- from a blocking tool handler (a worker thread) ----------------------------------------------------------

    def get(self, path: str, *, params: Mapping[str, Any] | None = None, **segments: str) -> Any:
        return self._call("GET", path, None, params, segments)

    def post(self, path: str, *, json: Any = None, **segments: str) -> Any:
        return self._call("POST", path, json, None, segments)

    def put(self, path: str, *, json: Any = None, **segments: str) -> Any:
        return self._call("PUT", path, json, None, segments)

    def delete(self, path: str, **segments: str) -> Any:
        return self._call("DELETE", path, None, None, segments)

    def request(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None, **segments: str
    ) -> Any:
        """The upstream's JSON answer for the calling tenant (None for an empty body); a `DeskhandError` otherwise.
        `path` may name `{segments}`, filled in quoted (`get("/orders/{id}", id=args.order_id)`: an id of
        `../admin` stays one segment). Call it from a tool registered with `blocking=True`: it waits for the request
        on the server's event loop."""
        return self._call(method, path, json, params, segments)

    def _call(
        self, method: str, path: str, json: Any, params: Mapping[str, Any] | None, segments: Mapping[str, str]
    ) -> Any:
        call = current_call()
        target = self._tenants(call.principal.tenant)
        if target is None:
            raise NotFound(f"{self.name}: no upstream is configured for this tenant")
        path = path.format_map({name: quote(value, safe="") for name, value in segments.items()})
        try:
            return anyio.from_thread.run(self._send, target, method.upper(), path, json, params, call.idempotency_key)
        except RuntimeError as exc:
            if "worker thread" not in str(exc):
                raise
            raise RuntimeError(
                f"{call.spec.name}: a tool that calls {self.name} must be added with blocking=True"
            ) from exc

    # -- on the loop -----------------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=self._timeout, limits=self._limits, transport=self._transport)
        return self._client

    async def _send(
        self,
        target: TenantUpstream,
        method: str,
        path: str,
        json: Any,
        params: Mapping[str, Any] | None,
        key: str | None,
    ) -> Any:
        headers = dict(target.headers)
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        if key:
            headers["Idempotency-Key"] = key
        retryable = method in SAFE_METHODS or key is not None
        url = target.base_url.rstrip("/") + "/" + path.lstrip("/")
        for attempt in range(1, self._attempts + 1):
            last = attempt == self._attempts or not retryable
            try:
                response = await self._http().request(method, url, json=json, params=params, headers=headers)
            except httpx2.TimeoutException:
                if last:
                    raise Unavailable(f"{self.name}: {method} {path} timed out") from None
                await anyio.sleep(self._wait(attempt, None))
                continue
            except httpx2.TransportError:
                if last:
                    raise Unavailable(f"{self.name}: {method} {path} could not reach the upstream") from None
                await anyio.sleep(self._wait(attempt, None))
                continue
            if response.status_code in RETRY_STATUSES and not last:
                await anyio.sleep(self._wait(attempt, _retry_after(response)))
                continue
            if response.is_success:
                return response.json() if response.content else None
            raise self._error(method, path, response)
        raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, 30.0)
        return float(self._backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not a secret

    def _error(self, method: str, path: str, response: httpx2.Response) -> DeskhandError:
        status, where = response.status_code, f"{self.name}: {method} {path}"
        if status == 404:
            return NotFound(f"{where}: not found")
        if status == 409:
            return Conflict(f"{where}: conflicts with the upstream's state")
        if status in (400, 422):
            return InvalidArgument(f"{where}: the upstream refused the request as invalid")
        if status == 429:
            return RateLimited(f"{where}: the upstream is rate limiting", retry_after=_retry_after(response) or 1.0)
        if status in (401, 403):
            return Unavailable(f"{where}: the upstream refused this server's credential (status {status})")
        return Unavailable(f"{where}: the upstream answered {status}", retry_after=_retry_after(response))


def _retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
