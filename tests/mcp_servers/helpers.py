"""Helpers shared by the server tests: reading tool results, and a seeded server."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from mcp.types import CallToolResult

from mcp_servers.kit import BoundarySettings, Database, GuardedServer
from schemas import TenantFile


def seeded(
    module: ModuleType, db: Database, tenants: list[TenantFile], settings: BoundarySettings | None = None
) -> GuardedServer:
    """The server of `module` on `db`, its tables created and every tenant loaded."""
    server: GuardedServer = module.build_server(db, settings)
    server.create_tables()
    for tenant in tenants:
        module.seed(db, tenant)
    return server


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a call that must have succeeded."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def error_code(result: CallToolResult) -> str:
    """The error code of a call that must have failed."""
    assert result.is_error, result
    assert result.structured_content is not None
    return str(result.structured_content["code"])


def error_field(result: CallToolResult) -> str | None:
    """The field an `invalid_argument` error names."""
    assert error_code(result) == "invalid_argument"
    assert result.structured_content is not None
    field = result.structured_content.get("field")
    return str(field) if field is not None else None
