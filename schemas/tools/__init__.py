"""The contracts of the reference servers' tools, one module per server.

`TOOLS_BY_NAME` maps `server.tool` (`crm.issue_credit`) to its `ToolSpec`.
"""

from __future__ import annotations

from schemas._tools import ToolSpec
from schemas.tools import crm, helpdesk, knowledge, mailbox

ALL_TOOLS: tuple[ToolSpec, ...] = (*crm.TOOLS, *helpdesk.TOOLS, *knowledge.TOOLS, *mailbox.TOOLS)
TOOLS_BY_NAME: dict[str, ToolSpec] = {spec.qualified_name: spec for spec in ALL_TOOLS}

__all__ = ["ALL_TOOLS", "TOOLS_BY_NAME", "crm", "helpdesk", "knowledge", "mailbox"]
