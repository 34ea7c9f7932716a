"""MCP servers: the boundary kit (`mcp_servers.kit`) and the four reference servers.

Each server (`crm`, `helpdesk`, `knowledge`, `mailbox`) is its own process with its own database,
started by `deskhand serve NAME`. They import only `schemas` and the kit, never each other, the
specialists or the coordinator. To add a server: describe its tools as `ToolSpec`s, write plain
handlers over a `TenantSession`, and register them on a `GuardedServer` (see `crm/`).
"""

__all__: list[str] = []
