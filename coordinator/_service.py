"""Wiring the coordinator from a deskhand home: store, MCP sessions, model, specialists, policies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import BaseModel

from coordinator._home import Home
from coordinator._registry import load_specialists
from coordinator._sessions import Routes, SessionPool, Tier, http_connector
from coordinator._tokens import DevKeys, TokenIssuer, signing_key_variable
from coordinator.models import DEFAULT_MODEL, build_model
from coordinator.runtime import Runtime, RuntimeSettings
from coordinator.store import Store
from coordinator.telemetry import tenant_span
from coordinator.workflow import load_workflows
from schemas import InboundEmail, NotFound, Policy
from schemas.tools import knowledge, mailbox
from specialists.kit import Manifest, Model


class _Nothing(BaseModel):
    pass


INTAKE = Manifest(
    name="intake",
    version="0.1.0",
    description="Reads the inbox and the tenants' policies.",
    input=_Nothing,
    output=_Nothing,
    scopes=("mail:read", "kb:read"),
    model_tier="none",
    max_iterations=0,
)


def issuer_of(home: Home) -> TokenIssuer:
    return TokenIssuer(DevKeys.load(home.keys_dir, variable=signing_key_variable()), issuer=home.issuer)


def routes_of(home: Home) -> Routes:
    """The home's shared servers with its key, and each pinned tenant's servers with that tenant's own key."""
    pinned = {
        tenant: Tier(
            {name: s.url for name, s in tier.items()},
            TokenIssuer(
                DevKeys.load(home.tenant_keys_dir(tenant), variable=signing_key_variable(tenant)), issuer=home.issuer
            ),
        )
        for tenant, tier in home.pinned.items()
    }
    return Routes(Tier({name: s.url for name, s in home.servers.items()}, issuer_of(home)), pinned)


async def fetch_policies(pool: SessionPool, tenants: list[str]) -> dict[str, Policy]:
    """Each tenant's policy from the knowledge server (over MCP, like everything else)."""
    policies: dict[str, Policy] = {}
    for tenant in tenants:
        with tenant_span(tenant, "read policy"):
            async with pool.session(tenant, INTAKE) as toolbox:
                result = await toolbox.call(knowledge.GET_POLICY, knowledge.GetPolicyIn())
        assert isinstance(result, knowledge.TenantPolicy)
        policies[tenant] = result.policy
    return policies


async def inbox_emails(pool: SessionPool, tenant: str) -> list[InboundEmail]:
    """The tenant's unprocessed mailbox messages, oldest first."""
    with tenant_span(tenant, "read inbox"):
        async with pool.session(tenant, INTAKE) as toolbox:
            listed = await toolbox.call(mailbox.LIST_INBOX, mailbox.ListInboxIn(status="unprocessed", limit=200))
            assert isinstance(listed, mailbox.MessageList)
            emails = []
            for item in listed.items:
                message = await toolbox.call(mailbox.GET_MESSAGE, mailbox.GetMessageIn(message_id=item.id))
                assert isinstance(message, mailbox.Message)
                emails.append(
                    InboundEmail(
                        message_id=message.id, sender=message.sender, subject=message.subject, body=message.body
                    )
                )
    return emails


@asynccontextmanager
async def open_runtime(
    home: Home,
    tenants: list[str],
    *,
    db: str | None = None,
    model: str | Model = DEFAULT_MODEL,
    settings: RuntimeSettings | None = None,
) -> AsyncIterator[Runtime]:
    """A runtime over the home's servers (HTTP) and store, for `tenants` (their policies fetched over MCP);
    `model`: a backend, or the name it is registered under (`coordinator.models.backend_names()`)."""
    store = Store(db or home.coordinator_db)
    try:
        async with SessionPool(http_connector(routes_of(home))) as pool:
            try:
                policies = await fetch_policies(pool, tenants)
            except NotFound as exc:
                raise NotFound(f"a tenant is not loaded on the knowledge server: {exc.message}") from exc
            specialists = load_specialists()
            manifests = {name: s.manifest for name, s in specialists.items()}
            yield Runtime(
                store=store,
                specialists=specialists,
                workflows=load_workflows(home.workflows_dir, manifests),
                pool=pool,
                model=build_model(model) if isinstance(model, str) else model,
                policies=policies,
                settings=settings or RuntimeSettings(),
            )
    finally:
        store.dispose()
