"""`GuardedServer`: an MCP server whose every tool is tenant-scoped, scope-checked and audited.

An integrator describes each tool with a `ToolSpec` (schemas) and writes a plain function
`handler(args, session) -> output` that works in a `TenantSession` bound to the caller's tenant:

    server = GuardedServer("crm", db=Database(url), settings=BoundarySettings(...))
    server.add_tool(FIND_CUSTOMER, find_customer)       # or @server.tool(FIND_CUSTOMER)
    server.run_stdio(verifier, token)                     # or server.http_app(verifier, url=...)

Around each handler the kit adds, without the handler knowing: the principal (from the token
only), the scope check, argument validation into the spec's input model, the per-tenant rate
limit, the request size limit, the audit row, and for writes the idempotency key in `_meta`:
the same key with the same arguments returns the recorded result and writes once; the same key
with other arguments is `idempotency_conflict`. Each server counts what it does (`server.metrics`) and
serves it at `/metrics` over HTTP.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
from mcp.server import MCPServer
from mcp.server.auth.middleware.bearer_auth import RequireAuthMiddleware
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import ServerMiddleware
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, ValidationError
from sqlalchemy import bindparam, insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Field, SQLModel, col
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route

from mcp_servers.kit._audit import AuditLog, AuditRecord
from mcp_servers.kit._auth import BearerBackend, RequireBearer
from mcp_servers.kit._guard import CallContext, Guard, StaticCredential, current_call
from mcp_servers.kit._http import ScopeGate
from mcp_servers.kit._jwt import JwtVerifier
from mcp_servers.kit._metrics import METRICS_ROLE, Exposition, MetricsEndpoint, ServerMetrics, all_tenants_token
from mcp_servers.kit._ratelimit import RateLimiter
from mcp_servers.kit._results import error_result, internal_error, invalid_argument
from mcp_servers.kit._sessions import SessionLimits
from mcp_servers.kit._storage import Database, TenantScoped, TenantSession, utc_field
from mcp_servers.kit._tracing import transaction_span
from schemas import Conflict, DeskhandError, IdempotencyConflict, ToolSpec, Unavailable, args_hash

logger = logging.getLogger(__name__)

_In = TypeVar("_In", bound=BaseModel)
_Out = TypeVar("_Out", bound=BaseModel)
Handler = Callable[[Any, TenantSession], BaseModel]


@dataclass(frozen=True)
class BoundarySettings:
    """Limits a guarded server enforces. The defaults suit one team; raise them for a busy tenant."""

    rate_per_second: float = 50.0
    """Sustained tool calls a second, per tenant."""
    burst: int = 200
    """Calls a tenant may make at once before the rate applies."""
    max_request_bytes: int = 256 * 1024
    """Largest request body (HTTP) or arguments object (stdio) accepted."""
    audit_queue: int = 100_000
    """Most audit rows waiting to be written; beyond it rows are dropped, counted and logged, never waited for."""
    sessions_per_principal: int = 64
    """Open legacy (`Mcp-Session-Id`) HTTP sessions one principal may hold; a new one past it is 429."""
    sessions_per_tenant: int = 256
    """Open legacy HTTP sessions all of one tenant's principals may hold together; past it, 429."""
    max_sessions: int = 10_000
    """Open legacy HTTP sessions on the server; past it, 503. Well above one tenant's share, so no
    single tenant can reach it."""
    session_idle_seconds: float = 600.0
    """A legacy session with no request in flight for this long is closed and its slot freed."""

    def __post_init__(self) -> None:
        if not 1 <= self.sessions_per_principal <= self.sessions_per_tenant < self.max_sessions:
            raise ValueError("session limits must satisfy 1 <= per principal <= per tenant < max_sessions")
        if not (math.isfinite(self.session_idle_seconds) and self.session_idle_seconds > 0):
            raise ValueError("session_idle_seconds must be a positive number of seconds")


class IdempotencyRecord(TenantScoped, table=True):
    """The result of a keyed write, kept so that a repeat returns it instead of writing again."""

    __tablename__ = "idempotency_record"

    tool: str = Field(max_length=200)
    args_hash: str = Field(max_length=64)
    result_json: str
    created_at: datetime = utc_field()


class _RawArguments(ArgModelBase):
    """Hands the tool the raw arguments, so the kit validates them into the spec's input model
    itself and can answer a mistake with a structured `invalid_argument` error naming the field."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"arguments": dict(self.__pydantic_extra__ or {})}


class GuardedServer:
    def __init__(
        self,
        name: str,
        *,
        db: Database,
        settings: BoundarySettings | None = None,
        instructions: str | None = None,
        version: str = "0.1.0",
        tables: Sequence[type[SQLModel]] = (),
    ) -> None:
        self.name = name
        self.tables: list[type[SQLModel]] = [*tables, AuditRecord, IdempotencyRecord]
        self.db = db
        self.settings = settings or BoundarySettings()
        self.instructions = instructions
        self.version = version
        self.audit = AuditLog(db, max_queue=self.settings.audit_queue)
        self.specs: dict[str, ToolSpec] = {}
        self._tools: list[Tool] = []
        self.metrics = ServerMetrics(name, self.specs)

    def create_tables(self) -> None:
        """Create this server's tables and the kit's (audit, idempotency) if they do not exist."""
        self.db.create_tables(self.tables)

    # -- registration -------------------------------------------------------------------------

    def add_tool(
        self, spec: ToolSpec, handler: Callable[[_In, TenantSession], _Out], *, blocking: bool = False
    ) -> None:
        """Serve `handler` as `spec`. A handler that waits on anything but this server's database (a call
        to your own API, a file, a lock) must say `blocking=True`: it then always runs in a worker thread.
        Otherwise it runs where the database runs its work (`Database.run`): on SQLite, on the event loop,
        where a handler that waits would stall every other call."""
        if spec.name in self.specs:
            raise ValueError(f"tool {spec.name!r} is registered twice")
        self.specs[spec.name] = spec
        self._tools.append(self._sdk_tool(spec, handler, blocking=blocking))

    def tool(
        self, spec: ToolSpec, *, blocking: bool = False
    ) -> Callable[[Callable[[_In, TenantSession], _Out]], Callable[[_In, TenantSession], _Out]]:
        def register(handler: Callable[[_In, TenantSession], _Out]) -> Callable[[_In, TenantSession], _Out]:
            self.add_tool(spec, handler, blocking=blocking)
            return handler

        return register

    # -- building MCP servers -----------------------------------------------------------------

    def mcp_server(
        self,
        *,
        credential: StaticCredential | None = None,
        verifier: JwtVerifier | None = None,
        resource_url: str | None = None,
        middleware: Sequence[ServerMiddleware[Any]] = (),
    ) -> MCPServer[None]:
        """The SDK server. With `credential`: stdio or in memory. With `verifier` and `resource_url`: HTTP.
        `middleware` runs inside the guard (after authentication and the scope check), e.g. fault injection."""
        guard = Guard(
            self.specs,
            audit=self.audit,
            limiter=RateLimiter(self.settings.rate_per_second, self.settings.burst),
            max_request_bytes=self.settings.max_request_bytes,
            credential=credential,
            metrics=self.metrics,
        )
        auth = None
        if verifier is not None:
            if resource_url is None or credential is not None:
                raise ValueError("an HTTP server needs resource_url and takes no static credential")
            auth = AuthSettings(
                issuer_url=AnyHttpUrl(verifier.issuer),
                resource_server_url=AnyHttpUrl(resource_url),
                required_scopes=[],
                validate_token_resource=True,
            )
        return MCPServer(
            self.name,
            instructions=self.instructions,
            version=self.version,
            tools=list(self._tools),
            token_verifier=verifier,
            auth=auth,
            middleware=[guard, *middleware],
            lifespan=self._lifespan,
            log_level="WARNING",
        )

    async def in_memory(
        self, verifier: JwtVerifier, token: str, *, middleware: Sequence[ServerMiddleware[Any]] = ()
    ) -> MCPServer[None]:
        """A server for `mcp.Client(server)` in the same process, acting for `token`'s principal."""
        return self.mcp_server(credential=await StaticCredential.verify(verifier, token), middleware=middleware)

    def run_stdio(self, verifier: JwtVerifier, token: str) -> None:
        """Serve on stdin/stdout for the principal of `token` (verified first; exits if it fails)."""

        async def main() -> None:
            server = self.mcp_server(credential=await StaticCredential.verify(verifier, token))
            await server.run_stdio_async()

        anyio.run(main)

    def http_app(
        self, verifier: JwtVerifier, *, resource_url: str, allowed_hosts: list[str] | None = None
    ) -> Starlette:
        """A Starlette app serving MCP at `resource_url`'s path (both protocol eras), with PRM and 401/403;
        a 401 says why, and legacy sessions are limited per principal and tenant (see `BoundarySettings`). Its
        `/metrics` answers a token for `resource_url` bound to every tenant with the role `metrics`."""
        server = self.mcp_server(verifier=verifier, resource_url=resource_url)
        path = "/" + resource_url.split("://", 1)[1].split("/", 1)[1] if resource_url.count("/") > 2 else "/mcp"
        hosts = allowed_hosts or ["127.0.0.1:*", "localhost:*", "[::1]:*"]
        settings = self.settings
        app = server.streamable_http_app(
            streamable_http_path=path,
            json_response=True,
            max_request_body_size=settings.max_request_bytes,
            session_idle_timeout=settings.session_idle_seconds,
            max_sessions=settings.max_sessions,
            transport_security=TransportSecuritySettings(
                enable_dns_rebinding_protection=True,
                allowed_hosts=hosts,
                allowed_origins=[f"http://{h}" for h in hosts],
            ),
        )
        metadata_url = str(build_resource_metadata_url(AnyHttpUrl(resource_url)))
        # The SDK's bearer backend and its `RequireAuthMiddleware` answer every refusal alike: ours say why.
        sdk_auth = [i for i, m in enumerate(app.user_middleware) if m.cls is AuthenticationMiddleware]  # type: ignore[comparison-overlap]
        if len(sdk_auth) != 1:  # pragma: no cover - the SDK always installs one with a token verifier
            raise RuntimeError("the SDK app has no single AuthenticationMiddleware to replace")
        backend = BearerBackend(verifier, resource_url=resource_url)
        app.user_middleware[sdk_auth[0]] = Middleware(AuthenticationMiddleware, backend=backend)
        for route in app.router.routes:
            if isinstance(route, Route) and route.path == path and isinstance(route.app, RequireAuthMiddleware):
                sessions = SessionLimits(
                    route.app.app,
                    per_principal=settings.sessions_per_principal,
                    per_tenant=settings.sessions_per_tenant,
                    total=settings.max_sessions,
                    idle_seconds=settings.session_idle_seconds,
                )
                route.app = ScopeGate(
                    RequireBearer(sessions, resource_metadata_url=metadata_url, metrics=self.metrics),
                    specs=self.specs,
                    audit=self.audit,
                    max_request_bytes=settings.max_request_bytes,
                    resource_metadata_url=metadata_url,
                    metrics=self.metrics,
                )
                break
        else:  # pragma: no cover - the SDK always mounts the endpoint behind its auth
            raise RuntimeError(f"the SDK app has no authenticated route {path}")
        scrape = MetricsEndpoint(Exposition(self.metrics.registry), all_tenants_token(verifier, [METRICS_ROLE]))
        app.router.routes.append(scrape.route())
        return app

    @asynccontextmanager
    async def _lifespan(self, _server: MCPServer[None]) -> AsyncIterator[None]:
        async with self.audit.running():
            yield None

    # -- one tool -----------------------------------------------------------------------------

    def _sdk_tool(self, spec: ToolSpec, handler: Callable[[Any, TenantSession], BaseModel], *, blocking: bool) -> Tool:
        db, metrics = self.db, self.metrics

        async def call(arguments: dict[str, Any], ctx: Context) -> BaseModel | CallToolResult:
            del ctx
            call = current_call()
            try:
                args = spec.input.model_validate(arguments)
            except ValidationError as exc:
                return error_result(invalid_argument(exc))
            try:
                if blocking:
                    return await anyio.to_thread.run_sync(_run, db, spec, handler, args, call, metrics)
                return await db.run(_run, db, spec, handler, args, call, metrics)
            except DeskhandError as exc:
                return error_result(exc)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                # The database dropped the connection (a restart, a failover): the pool has let go of it
                # and of every connection as old, so the same call again gets a fresh one. A write's
                # transaction was rolled back, or committed with its idempotency record: a retry with
                # the same key answers from that record.
                return error_result(
                    Unavailable(f"{spec.name}: the database connection was lost; retry", retry_after=0.05)
                )
            except Exception:  # noqa: BLE001 - a handler's or the database's bug: logged once, answered without details
                raise internal_error(f"tool {spec.name}") from None

        return Tool(
            fn=call,
            name=spec.name,
            title=spec.title,
            description=spec.description,
            parameters=spec.input.model_json_schema(),
            fn_metadata=FuncMetadata(arg_model=_RawArguments, output_model=spec.output),
            is_async=True,
            context_kwarg="ctx",
            annotations=ToolAnnotations(
                title=spec.title,
                read_only_hint=spec.side_effect == "read",
                destructive_hint=spec.destructive,
                idempotent_hint=spec.idempotent,
                open_world_hint=False,
            ),
            meta=spec.meta(),
        )


def _run(
    db: Database,
    spec: ToolSpec,
    handler: Callable[[Any, TenantSession], BaseModel],
    args: BaseModel,
    call: CallContext,
    metrics: ServerMetrics,
) -> BaseModel:
    """Run one handler in a transaction of the caller's tenant; for a keyed write, exactly once. A write's audit row
    (`call.audit`) is inserted in the same transaction, so a committed write always has its row."""
    key = call.idempotency_key
    digest = args_hash(args.model_dump(mode="json")) if key else ""
    with (
        transaction_span(spec.name, call.principal.tenant, db.engine.dialect.name),
        db.tenant_session(call.principal.tenant) as session,
    ):
        if key:
            recorded = _recorded(session, spec, key, digest)
            if recorded is not None:
                metrics.replayed(spec.name)
                return recorded
        result = handler(args, session)
        if spec.side_effect == "read":
            if session.new or session.dirty or session.deleted:
                raise RuntimeError(f"{spec.name} is declared a read but changed rows")  # a developer's mistake
            return result  # nothing to commit: the session closes (a read costs no commit)
        try:
            if key:
                session.flush()
                session.connection().execute(
                    _RECORD,
                    {
                        "tenant_id": session.tenant,
                        "id": _record_id(key),
                        "tool": spec.name,
                        "args_hash": digest,
                        "result_json": result.model_dump_json(),
                        "created_at": datetime.now(UTC),
                    },
                )
            if call.audit is not None:
                call.audit.insert(session.connection())
            session.commit()
            if call.audit is not None:
                call.audit.written = True
        except IntegrityError as exc:
            session.rollback()
            # With a key, a call with the same key may have committed first: answer with what it recorded.
            # Otherwise the rows clashed with rows stored meanwhile.
            recorded = _recorded(session, spec, key, digest) if key else None
            if recorded is None:
                raise Conflict(f"{spec.name} conflicts with data stored meanwhile; read it again and retry") from exc
            metrics.replayed(spec.name)
            return recorded
        return result


# The kit's own statements on the idempotency table: Core, built once (SQLAlchemy memoizes a statement's cache
# key), with the tenant bound from the session like every other statement. The ORM's select and unit of work
# cost three times the SQL for these two rows on every keyed write.
_LOOKUP = sa_select(
    col(IdempotencyRecord.tool), col(IdempotencyRecord.args_hash), col(IdempotencyRecord.result_json)
).where(col(IdempotencyRecord.tenant_id) == bindparam("tenant_id"), col(IdempotencyRecord.id) == bindparam("id"))
_RECORD = insert(IdempotencyRecord)


def _recorded(session: TenantSession, spec: ToolSpec, key: str, digest: str) -> BaseModel | None:
    record = session.connection().execute(_LOOKUP, {"tenant_id": session.tenant, "id": _record_id(key)}).first()
    if record is None:
        return None
    if record.tool != spec.name or record.args_hash != digest:
        raise IdempotencyConflict(
            f"idempotency key {key!r} was already used for {record.tool} with other arguments",
            field="_meta.deskhand/idempotency-key",
        )
    return spec.output.model_validate_json(record.result_json)


def _record_id(key: str) -> str:
    """The idempotency record's id for `key`: the key itself when it fits the id column, else its SHA-256."""
    return key if len(key) <= 64 else hashlib.sha256(key.encode()).hexdigest()
