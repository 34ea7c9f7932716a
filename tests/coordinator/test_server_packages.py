"""Servers beyond the four: a server package installed beside deskhand (the entry-point group `deskhand.servers`) is
run by `deskhand server serve`, set up by `init`, given a URL by the home, and reached by the coordinator with
tokens carrying its own scopes, as the built-in four are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from coordinator import Home
from coordinator._sessions import Routes, Tier, http_connector
from coordinator._tokens import Attribution, DevKeys, TokenIssuer
from coordinator.cli import running_servers
from mcp_servers.kit import load_servers
from schemas import ConfigError, ToolSpec, unknown_scopes
from specialists.kit import Manifest
from tests.coordinator.cli_helpers import ACME, NORTHWIND, cli
from tests.mcp_servers.helpers import error_code, ok

ORDERS = '''
"""An orders server, as an integrator would package it."""
from mcp_servers.kit import Database, GuardedServer, ServerPackage, TenantScoped, TenantSession
from schemas import Input, Output, ToolSpec


class Order(TenantScoped, table=True):
    __tablename__ = "orders_order"
    status: str


class PlaceIn(Input):
    status: str


class GetIn(Input):
    order_id: str


class OrderOut(Output):
    id: str
    status: str


PLACE = ToolSpec(server="orders", name="place_order", title="Place an order", description="A new order.",
                 scope="orders:write", side_effect="write", input=PlaceIn, output=OrderOut)
GET = ToolSpec(server="orders", name="get_order", title="Get an order", description="One order.",
               scope="orders:read", side_effect="read", input=GetIn, output=OrderOut)


def place_order(args: PlaceIn, db: TenantSession) -> OrderOut:
    row = Order(tenant_id=db.tenant, id=Order.new_id(), status=args.status)
    db.add(row)
    return OrderOut.model_validate(row, from_attributes=True)


def get_order(args: GetIn, db: TenantSession) -> OrderOut:
    return OrderOut.model_validate(db.one(Order, args.order_id, what="order"), from_attributes=True)


def build(db: Database, settings=None) -> GuardedServer:
    server = GuardedServer("orders", db=db, settings=settings, tables=[Order])
    server.add_tool(PLACE, place_order)
    server.add_tool(GET, get_order)
    return server


package = ServerPackage("orders", build, (PLACE, GET), description="Orders of the caller's tenant.")
'''

TABLELESS = """
from mcp_servers.kit import GuardedServer, ServerPackage
from schemas.tools import crm
package = ServerPackage("orders", build=lambda db, settings: GuardedServer("orders", db=db), tools=())
"""


def install(site: Path, module: str, source: str, entry: str) -> Path:
    """A package with a `deskhand.servers` entry point, installed in `site` as pip would (a dist-info beside it)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source, encoding="utf-8")
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[deskhand.servers]\n{entry}\n", encoding="utf-8")
    return site


@pytest.fixture
def orders_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = install(tmp_path / "site", "acme_orders", ORDERS, "orders = acme_orders:package")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))  # for the server processes
    return site


def test_an_installed_server_package_is_found_beside_the_four(orders_site: Path, tmp_path: Path) -> None:
    packages = load_servers()
    assert list(packages) == ["crm", "helpdesk", "knowledge", "mailbox", "orders"]
    assert packages["orders"].scopes == ("orders:read", "orders:write")
    assert packages["knowledge"].scopes == ("kb:read",)  # the built-ins come the same way
    home = Home.defaults(tmp_path / "home")
    assert home.servers["orders"].url == "http://127.0.0.1:8705/mcp"
    assert home.servers["crm"].url == "http://127.0.0.1:8701/mcp"


@pytest.mark.parametrize(
    ("source", "entry", "expected"),
    [
        ("package = 42\n", "orders = {module}:package", "is not a server package"),
        (TABLELESS, "shop = {module}:package", "loads a server named 'orders'; the names must match"),
        (TABLELESS, "orders = nowhere:package", "failed to load"),
        (
            TABLELESS.replace("tools=()", "tools=(crm.FIND_CUSTOMER,)"),
            "orders = {module}:package",
            "names the server 'crm'",
        ),
    ],
)
def test_a_broken_server_entry_point_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, entry: str, expected: str
) -> None:
    module = f"broken_{tmp_path.name}"  # a module of its own: a test's import stays in sys.modules
    monkeypatch.syspath_prepend(str(install(tmp_path / "site", module, source, entry.format(module=module))))
    with pytest.raises(ConfigError, match=expected):
        load_servers()


def test_a_tool_names_its_own_servers_scope_and_scopes_are_checked_by_form() -> None:
    from pydantic import BaseModel

    with pytest.raises(ValidationError, match="belongs to the server 'crm', not to 'orders'"):
        ToolSpec(
            server="orders",
            name="x",
            title="x",
            description="x",
            scope="crm:read",
            side_effect="read",
            input=BaseModel,
            output=BaseModel,
        )
    assert unknown_scopes(["orders:read", "crm:raed", "no-colon", "kb:read", "mail:send"]) == ["crm:raed", "no-colon"]
    manifest = Manifest(
        name="orders_clerk",
        version="0.1.0",
        description="x",
        input=BaseModel,
        output=BaseModel,
        scopes=("orders:read", "crm:read"),
    )
    assert manifest.scopes == ("orders:read", "crm:read")  # a specialist may ask for an installed server's scopes
    with pytest.raises(ValidationError, match="scopes"):
        Manifest(name="x", version="0.1.0", description="x", input=BaseModel, output=BaseModel, scopes=("Orders",))


def test_a_home_refuses_a_server_it_cannot_name(tmp_path: Path) -> None:
    home = Home.defaults(tmp_path / "home")
    home.save()
    text = home.config_path.read_text(encoding="utf-8")
    home.config_path.write_text(text + '\n[servers."Bad Name"]\nurl = "http://127.0.0.1:9000/mcp"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="lower-case letters"):
        Home.load(home.path)
    home.config_path.write_text(text + '\n[servers.remote]\ndb = "sqlite:///x.db"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"servers.remote.url: expected the server's MCP endpoint"):
        Home.load(home.path)
    home.config_path.write_text(
        text + '\n[servers.remote]\nurl = "https://orders.internal.example/mcp"\n', encoding="utf-8"
    )
    assert Home.load(home.path).server("remote").url == "https://orders.internal.example/mcp"  # served elsewhere


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_coordinator_reaches_an_installed_server_run_by_deskhand_serve(
    orders_site: Path, tmp_path: Path
) -> None:
    path = tmp_path / "home"
    result = cli("--home", str(path), "init", "--tenants", ACME, "--tenants", NORTHWIND)
    assert result.exit_code == 0, result.stderr
    assert "data/orders.db" in result.stdout  # its database made beside the four's
    home = Home.load(path)
    assert "[servers.orders]" in home.config_path.read_text(encoding="utf-8")  # its port is written down

    listed = cli("--home", str(path), "-o", "json", "server", "list")
    assert {"name": "orders", "scopes": ["orders:read", "orders:write"], "installed": True}.items() <= next(
        s for s in json.loads(listed.stdout) if s["name"] == "orders"
    ).items()
    minted = cli("--home", str(path), "-o", "json", "token", "mint", "--tenant", "acme", "--scopes", "orders:read")
    assert minted.exit_code == 0, minted.stderr
    assert json.loads(minted.stdout)["audience"] == [home.servers["orders"].url]

    issuer = TokenIssuer(DevKeys.load(home.keys_dir), issuer=home.issuer)
    connect = http_connector(Routes(Tier({n: s.url for n, s in home.servers.items()}, issuer)))
    caller = Attribution(subject="specialist:orders-test")
    with running_servers(home, only=["orders"]):
        async with connect("acme", "orders", ["orders:read", "orders:write"], caller) as client:
            order = ok(await client.call_tool("place_order", {"status": "new"}))
            assert order["status"] == "new"
            assert ok(await client.call_tool("get_order", {"order_id": order["id"]})) == order
        async with connect("northwind", "orders", ["orders:read"], caller) as client:
            other = await client.call_tool("get_order", {"order_id": order["id"]})
            assert error_code(other) == "not_found"  # another tenant's order is not there
            with pytest.raises(MCPError) as refused:
                await client.call_tool("place_order", {"status": "new"})
            assert refused.value.error.data["required_scope"] == "orders:write"  # its own scopes, at its boundary
        with pytest.raises(ConfigError, match=r"no URL for the server 'billing'"):
            async with connect("acme", "billing", ["billing:read"], caller):
                pass


def test_deskhand_serve_names_the_installed_servers_when_asked_for_another(tmp_path: Path) -> None:
    path = tmp_path / "home"
    Home.defaults(path).save()
    done = subprocess.run(
        [sys.executable, "-m", "coordinator.cli", "--home", str(path), "server", "serve", "orders", "--stdio"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1 and "unknown server 'orders'" in done.stderr, done.stderr
