"""The boundary kit: everything a tenant-scoped MCP server needs, reusable for your own servers.

- `JwtVerifier`, `KeySet`, `JwksUrl`: bearer JWTs (asymmetric, pinned algorithms, iss/aud/exp);
  `TokenRefused` says why; `PinnedVerifier`: one that accepts one tenant's tokens only (a pinned server).
  `BearerBackend`, `RequireBearer`: HTTP 401s that say why.
- `SessionLimits`: legacy HTTP sessions limited per principal and tenant.
- `GuardedServer`, `BoundarySettings`: register `ToolSpec`s with plain handlers; the kit adds
  scopes, validation, rate and size limits, audit and idempotency, on stdio and HTTP alike.
- `Database`, `TenantScoped`, `TenantSession`, `tenant_index`: tenant-bound SQLModel storage (`table_of`: a
  table model's Core table).
- `ServerMetrics`: a server's Prometheus metrics; `Exposition`, `MetricsEndpoint`: the `/metrics` every deskhand
  process serves, behind a bearer token (`all_tenants_token`).
- `AuditRecord`, `IdempotencyRecord`: the rows the kit writes; `AuditStats`: what the audit wrote and lost;
  `prune_records`: those rows past a retention window, counted or deleted (and the prune itself audited).
- `ServerPackage`, `load_servers`: a server as a package declares it (the entry-point group `deskhand.servers`),
  and every installed one, the built-in four included.
- `Upstream`, `TenantUpstream`, `tenant_upstreams`: an upstream HTTP API called from guarded tools, the caller's
  tenant carried as configured, its statuses mapped to deskhand's error codes, retries only where safe.
- `read_secret`: a secret from an environment variable or a 0600 file (`schemas.check_private`), never from a
  configuration file.
- `setup_tracing`: OpenTelemetry traces from the `OTEL_*` variables (off unless configured); each tool call's
  transaction is a span under the one the MCP SDK opens for the request.

Imports only `schemas` and third-party libraries. See `mcp_servers/crm` for a complete server.
"""

from mcp_servers.kit._audit import AuditLog, AuditRecord, AuditStats
from mcp_servers.kit._auth import BearerBackend, RequireBearer
from mcp_servers.kit._guard import CallContext, Guard, StaticCredential, current_call
from mcp_servers.kit._http import ScopeGate
from mcp_servers.kit._jwt import (
    ASYMMETRIC_ALGORITHMS,
    JwksUrl,
    JwtVerifier,
    KeySet,
    PinnedVerifier,
    RefusalReason,
    TokenRefused,
    principal_from_claims,
)
from mcp_servers.kit._listen import listening
from mcp_servers.kit._metrics import (
    LATENCY_BUCKETS,
    METRICS_ROLE,
    MULTIPROCESS_ENV,
    Exposition,
    MetricsEndpoint,
    ServerMetrics,
    all_tenants_token,
    multiprocess,
)
from mcp_servers.kit._package import SERVERS_ENTRY_POINT_GROUP, ServerPackage, load_servers
from mcp_servers.kit._ratelimit import RateLimiter
from mcp_servers.kit._results import error_result
from mcp_servers.kit._retention import PRUNE_TOOL, Pruned, prune_records
from mcp_servers.kit._secrets import read_secret
from mcp_servers.kit._server import BoundarySettings, GuardedServer, IdempotencyRecord
from mcp_servers.kit._sessions import SessionLimits
from mcp_servers.kit._storage import (
    Database,
    TenantRequired,
    TenantScoped,
    TenantSession,
    UtcDateTime,
    table_of,
    tenant_index,
    utc_field,
)
from mcp_servers.kit._tracing import RUN_ID, SPECIALIST, TENANT, setup_tracing, tracing_configured
from mcp_servers.kit._upstream import TenantUpstream, Upstream, tenant_upstreams
from schemas import args_hash  # the kit has always offered it

__all__ = [
    "listening",
    "tenant_upstreams",
    "TenantUpstream",
    "Upstream",
    "load_servers",
    "SERVERS_ENTRY_POINT_GROUP",
    "ServerPackage",
    "read_secret",
    "ASYMMETRIC_ALGORITHMS",
    "LATENCY_BUCKETS",
    "METRICS_ROLE",
    "MULTIPROCESS_ENV",
    "Exposition",
    "MetricsEndpoint",
    "ServerMetrics",
    "all_tenants_token",
    "multiprocess",
    "AuditLog",
    "AuditRecord",
    "AuditStats",
    "BoundarySettings",
    "CallContext",
    "Database",
    "Guard",
    "GuardedServer",
    "IdempotencyRecord",
    "PRUNE_TOOL",
    "Pruned",
    "JwksUrl",
    "JwtVerifier",
    "KeySet",
    "PinnedVerifier",
    "RateLimiter",
    "ScopeGate",
    "StaticCredential",
    "TenantRequired",
    "TenantScoped",
    "TenantSession",
    "UtcDateTime",
    "args_hash",
    "current_call",
    "error_result",
    "principal_from_claims",
    "prune_records",
    "table_of",
    "tenant_index",
    "utc_field",
    "RefusalReason",
    "TokenRefused",
    "BearerBackend",
    "RequireBearer",
    "SessionLimits",
    "setup_tracing",
    "RUN_ID",
    "SPECIALIST",
    "TENANT",
    "tracing_configured",
]
