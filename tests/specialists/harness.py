"""Running a specialist for real: the four MCP servers in memory, tokens for its manifest's scopes only."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.server.context import ServerMiddleware

from coordinator._registry import load_specialists
from coordinator._sessions import Connect, SessionPool
from coordinator._tokens import Attribution
from coordinator._toolbox import McpToolbox
from coordinator.models import OfflineModel
from coordinator.runtime import Runtime
from coordinator.store import Store
from mcp_servers import crm, helpdesk, knowledge, mailbox
from mcp_servers.kit import Database, GuardedServer
from schemas import ServerName, TenantFile, server_of_scope
from specialists.kit import Budget, Model, ScopedToolbox, SpecialistContext
from tests.conftest import AUDIENCE, Issuer
from tests.mcp_servers.helpers import seeded

MODULES = {"crm": crm, "helpdesk": helpdesk, "knowledge": knowledge, "mailbox": mailbox}


@dataclass
class World:
    """The four reference servers, each on its own database, with both example tenants loaded."""

    servers: dict[ServerName, GuardedServer]
    tenants: dict[str, TenantFile]
    issuer: Issuer

    @classmethod
    def build(cls, directory: Path, tenants: list[TenantFile], issuer: Issuer) -> World:
        servers = {
            name: seeded(module, Database(f"sqlite:///{directory / name}.db"), tenants)
            for name, module in MODULES.items()
        }
        return cls(servers, {t.tenant: t for t in tenants}, issuer)  # type: ignore[arg-type]

    @classmethod
    def copied(cls, template: Path, directory: Path, tenants: list[TenantFile], issuer: Issuer) -> World:
        """The world `build` made in `template` with the same `tenants` (disposed since), its databases copied
        into `directory`: the same start as a fresh `build`, without creating and seeding them again."""
        for file in template.glob("*.db*"):
            shutil.copyfile(file, directory / file.name)
        servers = {
            name: module.build_server(Database(f"sqlite:///{directory / name}.db")) for name, module in MODULES.items()
        }
        return cls(servers, {t.tenant: t for t in tenants}, issuer)  # type: ignore[arg-type]

    @asynccontextmanager
    async def runtime(self, store_url: str, connect: Connect | None = None) -> AsyncIterator[Runtime]:
        """A coordinator runtime over these servers, with its store at `store_url` and the offline model."""
        store = Store(store_url)
        try:
            async with SessionPool(connect or self.connect) as pool:
                yield Runtime(
                    store=store,
                    specialists=load_specialists(),
                    pool=pool,
                    model=OfflineModel(),
                    policies={name: t.policy for name, t in self.tenants.items()},
                )
        finally:
            store.dispose()

    def dispose(self) -> None:
        for server in self.servers.values():
            server.db.dispose()

    @asynccontextmanager
    async def connect(
        self,
        tenant: str,
        server: ServerName,
        scopes: list[str],
        caller: Attribution | None = None,
        *,
        middleware: Sequence[ServerMiddleware[Any]] = (),
    ) -> AsyncIterator[Client]:
        """An in-memory MCP client to `server` for `tenant` with `scopes` (the coordinator's `Connect`), its token
        attributed to `caller` when given, `middleware` running inside the server's guard."""
        token = (
            self.issuer.token(tenant, scopes)
            if caller is None
            else self.issuer.issuer.mint(
                tenant=tenant,
                scopes=scopes,
                audience=AUDIENCE,
                ttl_seconds=caller.ttl_seconds or 600,
                subject=caller.subject,
                run=caller.run,
                actor=caller.actor,
            )
        )
        mcp = await self.servers[server].in_memory(self.issuer.verifier(), token, middleware=middleware)
        async with Client(mcp) as client:
            yield client

    @asynccontextmanager
    async def context(
        self,
        specialist: Any,
        tenant: str,
        model: Model,
        *,
        budget: Budget | None = None,
        token_scopes: tuple[str, ...] | None = None,
        run_id: str = "run-1",
    ) -> AsyncIterator[SpecialistContext]:
        """A context for `specialist` acting for `tenant`: one MCP client per server its scopes reach,
        each with a token carrying only those scopes (or `token_scopes`, to test what the manifest adds)."""
        scopes = token_scopes if token_scopes is not None else specialist.manifest.scopes
        by_server: dict[ServerName, list[str]] = {}
        for scope in scopes:
            by_server.setdefault(server_of_scope(scope), []).append(scope)
        budget = budget or Budget()
        async with AsyncExitStack() as stack:
            clients: dict[ServerName, Client] = {}
            for name, server_scopes in by_server.items():
                mcp = await self.servers[name].in_memory(
                    self.issuer.verifier(), self.issuer.token(tenant, server_scopes)
                )
                clients[name] = await stack.enter_async_context(Client(mcp))
            toolbox = ScopedToolbox(await McpToolbox.discover(clients), specialist.manifest.scopes, budget)
            yield SpecialistContext(
                tenant=tenant,
                run_id=run_id,
                policy=self.tenants[tenant].policy,
                toolbox=toolbox,
                model=model,
                budget=budget,
                manifest=specialist.manifest,
            )
