"""A deployment the API tests share, per store (SQLite, PostgreSQL): a home with both example tenants, its four
servers over real HTTP, runs the real runtime made through them, and the API served over HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import pytest
import uvicorn
from starlette.types import ASGIApp

from coordinator import Home, open_runtime
from coordinator._tokens import DevKeys, TokenIssuer
from coordinator._worker import work
from coordinator.api import create_app
from coordinator.store import Store
from schemas import InboundEmail, TenantFile
from tests.conftest import ON_POSTGRES, postgres_schema
from tests.coordinator.cli_helpers import ACME, NORTHWIND, init_on_free_ports
from tests.coordinator.http_servers import serving


@contextmanager
def serving_app(app: ASGIApp) -> Iterator[str]:
    """`app` over HTTP on a free port of 127.0.0.1 (listening before the thread starts) until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=anyio.run, args=(lambda: server.serve(sockets=[sock]),), name="api")
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


async def run_through(home: Home, db: str, emails: list[tuple[str, InboundEmail]]) -> list[str]:
    """Each (tenant, email) submitted and worked to its end by the real runtime over the home's servers."""
    async with open_runtime(home, list(home.tenants), db=db) as runtime:
        ids = [runtime.submit(tenant, email)[0] for tenant, email in emails]
        await work(runtime, until_idle=True, poll_seconds=0.01)
    return ids


@dataclass
class Deployment:
    home: Home
    db: str
    url: str
    completed: str
    """acme's invoice question, completed."""
    waiting: str
    """acme's refund, awaiting approval of a credit."""
    northwind: str
    approval: str
    """The refund's pending approval."""

    def token(self, tenant: str | None, *roles: str, ttl: int = 600, audience: str | None = None) -> str:
        issuer = TokenIssuer(DevKeys.load(self.home.keys_dir), issuer=self.home.issuer)
        return issuer.mint(
            tenant=tenant,
            scopes=[],
            audience=audience or self.home.api_audience,
            roles=roles,
            ttl_seconds=ttl,
            subject=f"{'+'.join(roles) or 'nobody'}@{tenant or 'all'}",
        )

    def client(self, token: str | None = None) -> httpx2.Client:
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        return httpx2.Client(base_url=self.url, headers=headers, timeout=30)


def refund(customer: str, amount: str = "$120.00") -> InboundEmail:
    return InboundEmail(
        sender=customer,
        subject="Charged twice - please refund",
        body=f"We were charged twice for March. Please refund the duplicate {amount} charge.",
    )


@pytest.fixture(scope="module", params=["sqlite", ON_POSTGRES])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tenants: list[TenantFile]
) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("api")
    home = init_on_free_ports(folder / "home", ACME, NORTHWIND)
    with _store_url(request, folder) as db, serving(home):
        acme, northwind = tenants[0].customers[0].email, tenants[1].customers[0].email
        invoice = InboundEmail(
            sender=acme,
            subject="Invoice copy please",
            body="Hi, could you send me a copy of last month's invoice? I cannot find it in billing.",
        )
        other = InboundEmail(sender=northwind, subject="Invoice copy", body="Where is my invoice?")
        completed, waiting, nw = anyio.run(
            run_through, home, db, [("acme", invoice), ("acme", refund(acme)), ("northwind", other)]
        )
        store = Store(db)
        try:
            (approval,) = store.approvals(run_id=waiting)
            with serving_app(create_app(home, store)) as url:
                yield Deployment(home, db, url, completed, waiting, nw, approval.id)
        finally:
            store.dispose()


@contextmanager
def _store_url(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{folder / 'coordinator.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_available")) as url:
        yield url
