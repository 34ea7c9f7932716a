"""Shared fixtures: real keys, real tokens, real databases, real MCP clients."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import Client

from coordinator._tokens import DevKeys, TokenIssuer
from mcp_servers.kit import Database, GuardedServer, JwtVerifier, KeySet
from schemas import TenantFile, load_tenant_file

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_TENANTS = REPO / "examples" / "tenants"
ISSUER = "http://127.0.0.1:8700"
AUDIENCE = "http://127.0.0.1:8701/mcp"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Issuer:
    """Mints real signed tokens and builds the verifier that trusts them."""

    def __init__(self, keys: DevKeys) -> None:
        self.keys = keys
        self.issuer = TokenIssuer(keys, issuer=ISSUER)

    def token(self, tenant: str, scopes: Iterable[str], *, audience: str = AUDIENCE, ttl: int = 600) -> str:
        return self.issuer.mint(tenant=tenant, scopes=scopes, audience=audience, ttl_seconds=ttl, subject="tester")

    def verifier(self, audience: str = AUDIENCE) -> JwtVerifier:
        return JwtVerifier(KeySet(self.keys.jwks(), source="test"), issuer=ISSUER, audience=audience)


@pytest.fixture(scope="session")
def dev_keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return DevKeys.create(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def issuer(dev_keys: DevKeys) -> Issuer:
    return Issuer(dev_keys)


@pytest.fixture(scope="session")
def tenants() -> list[TenantFile]:
    """The example tenants, acme first then northwind."""
    return [load_tenant_file(EXAMPLE_TENANTS / "acme.yaml"), load_tenant_file(EXAMPLE_TENANTS / "northwind.yaml")]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterable[Database]:
    db = Database(f"sqlite:///{tmp_path / 'server.db'}")
    yield db
    db.dispose()


@asynccontextmanager
async def connect(server: GuardedServer, issuer: Issuer, tenant: str, scopes: Iterable[str]) -> AsyncIterator[Client]:
    """A real MCP client, in memory, acting for `tenant` with `scopes`."""
    mcp = await server.in_memory(issuer.verifier(), issuer.token(tenant, scopes))
    async with Client(mcp, raise_exceptions=True) as client:
        yield client


def postgres_url() -> str | None:
    """The PostgreSQL URL for tests, or None when none is reachable (the tests then skip)."""
    return os.environ.get("DESKHAND_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
