"""examples/orders-api as an integrator runs it: the orders API (its own storage, its own keys) and the guarded MCP
server in front of it, each a process on 127.0.0.1, called by the coordinator's connector with a home's tokens."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from coordinator import Home
from coordinator._sessions import Routes, Tier, http_connector
from coordinator._tokens import Attribution, DevKeys, TokenIssuer
from coordinator.cli import ServerProcess, free_port
from coordinator.cli._processes import READY_CEILING, wait_ready
from schemas import META_IDEMPOTENCY_KEY
from tests.conftest import REPO
from tests.coordinator.cli_helpers import ACME, NORTHWIND, cli
from tests.mcp_servers.helpers import error_code, ok

EXAMPLE = REPO / "examples" / "orders-api"
pytestmark = [pytest.mark.slow, pytest.mark.anyio]


def test_the_example_is_small() -> None:
    assert len((EXAMPLE / "server.py").read_text(encoding="utf-8").splitlines()) < 80
    assert len((EXAMPLE / "api.py").read_text(encoding="utf-8").splitlines()) < 80


@contextmanager
def process(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen([sys.executable, *args], env={**os.environ, **env}, cwd=cwd, stdout=out, stderr=out)
    try:
        yield child
    finally:
        child.terminate()
        child.wait(timeout=30)


def until_it_answers(url: str, child: subprocess.Popen[bytes], log: Path) -> None:
    """Start-up: poll until the API answers anything, for as long as it lives."""
    deadline = time.monotonic() + READY_CEILING
    while time.monotonic() < deadline:
        assert child.poll() is None, log.read_text(errors="replace")
        try:
            httpx2.get(url, timeout=1.0)
            return
        except httpx2.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer: {log.read_text(errors='replace')}")


async def test_the_guarded_server_carries_each_tenant_to_the_api(tmp_path: Path) -> None:
    home_path = tmp_path / "home"
    assert cli("--home", str(home_path), "init", "--tenants", ACME, "--tenants", NORTHWIND).exit_code == 0
    home = Home.load(home_path)
    (tmp_path / "keys.txt").write_text("acme key-of-acme\nnorthwind key-of-northwind\n", encoding="utf-8")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[tenants.acme]\ntoken = "key-of-acme"\n[tenants.northwind]\ntoken = "key-of-northwind"\n')
    secrets.chmod(0o600)
    api_port, mcp_port = free_port(), free_port()
    api_url, mcp_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{mcp_port}/mcp"
    api_env = {"ORDERS_API_DB": str(tmp_path / "api.db"), "ORDERS_API_KEYS": str(tmp_path / "keys.txt")}
    mcp_env = {"DESKHAND_HOME": str(home_path), "ORDERS_API_URL": api_url, "ORDERS_API_SECRETS": str(secrets)}
    api_log, mcp_log = tmp_path / "api.log", tmp_path / "mcp.log"
    issuer = TokenIssuer(DevKeys.load(home.keys_dir), issuer=home.issuer)
    connect = http_connector(Routes(Tier({"orders": mcp_url}, issuer)))
    caller = Attribution(subject="specialist:orders-test")
    with (
        process([str(EXAMPLE / "api.py"), "127.0.0.1", str(api_port)], api_env, tmp_path, api_log) as api,
        process([str(EXAMPLE / "server.py"), "127.0.0.1", str(mcp_port)], mcp_env, tmp_path, mcp_log) as mcp,
    ):
        until_it_answers(api_url, api, api_log)
        wait_ready([ServerProcess("orders", mcp_url, mcp, mcp_log)], READY_CEILING, lambda _: None)
        async with connect("acme", "orders", ["orders:read", "orders:write"], caller) as client:
            key = {META_IDEMPOTENCY_KEY: "place-1"}
            placed = ok(await client.call_tool("place_order", {"item": "desk", "quantity": 2}, meta=key))
            again = ok(await client.call_tool("place_order", {"item": "desk", "quantity": 2}, meta=key))
            assert again == placed and placed["status"] == "placed"  # one order, however often it is asked
            assert ok(await client.call_tool("get_order", {"order_id": placed["id"]})) == placed
            cancelled = ok(await client.call_tool("cancel_order", {"order_id": placed["id"]}))
            assert cancelled["status"] == "cancelled"
            # the API's statuses in deskhand's codes: 409, 422 and 404
            assert error_code(await client.call_tool("cancel_order", {"order_id": placed["id"]})) == "conflict"
            bad = await client.call_tool("place_order", {"item": "desk", "quantity": 0})
            assert error_code(bad) == "invalid_argument"
            missing = await client.call_tool("get_order", {"order_id": "../orders/../O-1"})
            assert error_code(missing) == "not_found"
        async with connect("northwind", "orders", ["orders:read", "orders:write"], caller) as client:
            # the tenant is the token's: northwind's key reaches the API, and acme's order is not there
            assert error_code(await client.call_tool("get_order", {"order_id": placed["id"]})) == "not_found"
            assert error_code(await client.call_tool("cancel_order", {"order_id": placed["id"]})) == "not_found"
        with sqlite3.connect(tmp_path / "api.db") as db:
            assert db.execute("SELECT tenant, status FROM orders").fetchall() == [("acme", "cancelled")]
        api.terminate()
        api.wait(timeout=30)
        async with connect("acme", "orders", ["orders:read"], caller) as client:
            down = await client.call_tool("get_order", {"order_id": placed["id"]})
            assert error_code(down) == "unavailable"  # the API is gone: tried again, then unavailable
    assert "key-of-acme" not in mcp_log.read_text(errors="replace")  # no credential in the server's log
