"""Shared fixtures: real keys, real tokens, real databases, real MCP clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
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


POSTGRES_URL = os.environ.get("DESKHAND_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[dev]')"
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        return f"no PostgreSQL at {POSTGRES_URL} ({str(exc).strip().splitlines()[0]})"
    return None


@pytest.fixture(scope="session")
def postgres_available() -> str:
    reason = _postgres_reason()
    if reason is not None:
        if os.environ.get("DESKHAND_REQUIRE_POSTGRES"):
            pytest.fail(f"DESKHAND_REQUIRE_POSTGRES is set but {reason}")
        pytest.skip(reason)
    return POSTGRES_URL


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs PostgreSQL carries the `postgres` mark, so `-m "not postgres"` runs without one."""
    unmarked = [
        item.nodeid
        for item in items
        if "postgres_available" in getattr(item, "fixturenames", ()) and item.get_closest_marker("postgres") is None
    ]
    if unmarked:
        raise pytest.UsageError("these tests need PostgreSQL but are not marked postgres: " + ", ".join(unmarked))


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """The URL of a schema of its own in the PostgreSQL database at `base_url`, dropped afterwards."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def pg_store_url(request: pytest.FixtureRequest, postgres_available: str) -> Iterable[str]:
    """The URL of a real PostgreSQL database, in a schema of its own that is dropped afterwards."""
    if request.node.get_closest_marker("postgres") is None:  # reached through getfixturevalue
        pytest.fail(f"{request.node.nodeid} needs PostgreSQL but is not marked postgres")
    with postgres_schema(postgres_available) as url:
        yield url


ON_POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
"""The PostgreSQL param of a fixture that runs on both databases: marked, so `-m "not postgres"` leaves it out."""


@pytest.fixture
def postgres_db(pg_store_url: str) -> Iterable[Database]:
    """A real PostgreSQL database, in a schema of its own that is dropped afterwards."""
    db = Database(pg_store_url)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture(params=["sqlite", ON_POSTGRES])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes `store_url` runs on a SQLite file and on a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'coordinator.db'}"
    url: str = request.getfixturevalue("pg_store_url")
    return url


@pytest.fixture(params=["sqlite", ON_POSTGRES])
def db(request: pytest.FixtureRequest) -> Database:
    """Each test that takes `db` runs on SQLite and on PostgreSQL."""
    name = "sqlite_db" if request.param == "sqlite" else "postgres_db"
    database: Database = request.getfixturevalue(name)
    return database


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory, tenants: list[TenantFile], dev_keys: DevKeys) -> Path:
    """The four servers' databases, created and seeded with both example tenants once a session."""
    from tests.specialists.harness import World

    folder = tmp_path_factory.mktemp("world-template")
    World.build(folder, tenants, Issuer(dev_keys)).dispose()
    return folder


@pytest.fixture
def world(tmp_path: Path, tenants: list[TenantFile], issuer: Issuer, world_template: Path) -> Iterable[object]:
    """The four reference servers with both example tenants, each test on its own copy of their databases
    (see tests/specialists/harness.py)."""
    from tests.specialists.harness import World

    built = World.copied(world_template, tmp_path, tenants, issuer)
    yield built
    built.dispose()
