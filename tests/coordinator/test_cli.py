"""The `deskhand` command line, run as a real process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import func
from sqlmodel import select

from coordinator import Home
from coordinator.cli._processes import free_port, running_servers
from coordinator.store import Store
from mcp_servers.crm import CustomerRow
from mcp_servers.kit import AuditRecord, Database, JwtVerifier, KeySet
from tests.coordinator.cli_helpers import ACME, DESKHAND, NORTHWIND, deskhand


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("home")
    result = deskhand("init", "--home", str(path), "--tenants", ACME, "--tenants", NORTHWIND)
    assert result.returncode == 0, result.stderr
    return path


def count(db_url: str, model: type) -> int:
    db = Database(db_url)
    try:
        with db.admin_session() as session:
            return int(session.exec(select(func.count()).select_from(model)).one())
    finally:
        db.dispose()


def test_init_makes_keys_config_and_databases_and_is_idempotent(home: Path) -> None:
    config = Home.load(home)
    assert (home / "keys" / "signing-key.pem").stat().st_mode & 0o777 == 0o600
    assert set(config.servers) == {"crm", "helpdesk", "knowledge", "mailbox"}
    jwks_before = config.jwks_path.read_text()
    customers = count(config.servers["crm"].db, CustomerRow)
    assert customers >= 12
    again = deskhand("init", "--home", str(home), "--tenants", ACME, "--tenants", NORTHWIND)
    assert again.returncode == 0, again.stderr
    assert config.jwks_path.read_text() == jwks_before
    assert count(config.servers["crm"].db, CustomerRow) == customers


def test_init_with_a_bad_tenant_file_names_it_and_creates_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(ACME).read_text().replace("queue: billing", "queue: Billing Team!", 1))
    result = deskhand("init", "--home", str(tmp_path / "home"), "--tenants", str(bad))
    assert result.returncode == 2
    assert "bad.yaml" in result.stderr and "policy.categories[0].queue" in result.stderr
    assert not (tmp_path / "home").exists()


def test_token_mint_signs_a_least_privilege_token_the_servers_trust(home: Path) -> None:
    result = deskhand("token", "mint", "--home", str(home), "--tenant", "acme", "--scopes", "crm:read,kb:read")
    assert result.returncode == 0, result.stderr
    config = Home.load(home)
    for server in ("crm", "knowledge"):
        verifier = JwtVerifier(
            KeySet.from_file(config.jwks_path), issuer=config.issuer, audience=config.servers[server].url
        )
        principal = anyio.run(verifier.verify_principal, result.stdout.strip())
        assert principal.tenant == "acme" and principal.scopes == frozenset({"crm:read", "kb:read"})
    helpdesk = JwtVerifier(
        KeySet.from_file(config.jwks_path), issuer=config.issuer, audience=config.servers["helpdesk"].url
    )
    assert anyio.run(helpdesk.verify_token, result.stdout.strip()) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "acme", "--scopes", "crm:everything"], "unknown scopes"),
        (["--tenant", "Acme Corp", "--scopes", "crm:read"], "--tenant 'Acme Corp'"),
        (["--tenant", "acme"], "give --scopes or --role"),
        (["--tenant", "acme", "--scopes", "crm:read", "--ttl", "forever"], "ttl 'forever'"),
    ],
)
def test_token_mint_refuses_bad_input_clearly(home: Path, args: list[str], message: str) -> None:
    result = deskhand("token", "mint", "--home", str(home), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_commands_before_init_say_to_run_init(tmp_path: Path) -> None:
    result = deskhand("token", "mint", "--home", str(tmp_path), "--tenant", "acme", "--scopes", "crm:read")
    assert result.returncode == 2 and "run `deskhand init" in result.stderr


@pytest.fixture
def served(home: Path) -> Iterator[Home]:
    """The four servers of `home` as real processes on free ports, stopped (and audit flushed) after."""
    config = Home.load(home)
    moved = Home(
        config.path,
        config.issuer,
        {name: type(s)(name, f"http://127.0.0.1:{free_port()}/mcp", s.db) for name, s in config.servers.items()},
    )
    moved.save()
    try:
        with running_servers(moved, only=["crm"]):
            yield moved
    finally:
        config.save()


def test_served_crm_answers_the_sdk_client_with_a_minted_token(served: Home) -> None:
    token = deskhand(
        "token", "mint", "--home", str(served.path), "--tenant", "northwind", "--scopes", "crm:read"
    ).stdout.strip()
    url = served.servers["crm"].url

    async def main() -> tuple[set[str], object]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            names = {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool("get_account", {"account_id": "A-1"})  # acme's id
            return names, result.structured_content

    names, result = anyio.run(main)
    assert names == {"find_customer", "get_account", "list_interactions"}
    assert result == {"code": "not_found", "message": "account 'A-1' not found"}


def test_stopping_the_servers_flushes_their_audit(home: Path) -> None:
    config = Home.load(home)
    moved = Home(
        config.path,
        config.issuer,
        {name: type(s)(name, f"http://127.0.0.1:{free_port()}/mcp", s.db) for name, s in config.servers.items()},
    )
    before = count(config.servers["knowledge"].db, AuditRecord)
    moved.save()
    try:
        with running_servers(moved, only=["knowledge"]):
            token = deskhand(
                "token", "mint", "--home", str(home), "--tenant", "acme", "--scopes", "kb:read"
            ).stdout.strip()

            async def main() -> None:
                url = moved.servers["knowledge"].url
                async with (
                    httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
                    Client(streamable_http_client(url, http_client=http)) as client,
                ):
                    for _ in range(3):
                        await client.call_tool("search_articles", {"query": "invoice"})

            anyio.run(main)
    finally:
        config.save()
    assert count(config.servers["knowledge"].db, AuditRecord) == before + 3


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_stdio_server_takes_its_credential_from_the_environment(home: Path, mode: str) -> None:
    token = deskhand("token", "mint", "--home", str(home), "--tenant", "acme", "--scopes", "mail:read").stdout.strip()
    params = StdioServerParameters(
        command=DESKHAND, args=["serve", "mailbox", "--stdio", "--home", str(home)], env={"DESKHAND_TOKEN": token}
    )

    async def main() -> tuple[list[str], object, object]:
        async with Client(params, mode=mode) as client:  # type: ignore[arg-type]
            assert (client.protocol_version == "2026-07-28") == (mode == "auto")
            names = [t.name for t in (await client.list_tools()).tools]
            inbox = await client.call_tool("list_inbox", {})
            denied = await client.call_tool("send_reply", {"message_id": "M-1", "body": "hello"})
            return names, inbox.structured_content, denied.structured_content

    names, inbox, denied = anyio.run(main)
    assert sorted(names) == ["get_message", "list_inbox"]
    assert isinstance(inbox, dict) and inbox["items"]
    assert isinstance(denied, dict) and denied["code"] == "insufficient_scope"


@pytest.mark.parametrize("token", ["", "not-a-token"])
def test_stdio_server_without_a_valid_credential_refuses_to_start(home: Path, token: str) -> None:
    env = {**os.environ, "DESKHAND_TOKEN": token}
    result = subprocess.run(
        [DESKHAND, "serve", "crm", "--stdio", "--home", str(home)],
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert ("DESKHAND_TOKEN is not set" if not token else "unauthenticated") in result.stderr


def test_serve_takes_the_tenant_rate_limit_from_its_flags(home: Path) -> None:
    token = deskhand("token", "mint", "--home", str(home), "--tenant", "acme", "--scopes", "mail:read").stdout.strip()
    params = StdioServerParameters(
        command=DESKHAND,
        args=["serve", "mailbox", "--stdio", "--home", str(home), "--rate", "0.001", "--burst", "2"],
        env={"DESKHAND_TOKEN": token},
    )

    async def main() -> list[object]:
        async with Client(params) as client:
            return [(await client.call_tool("list_inbox", {})).structured_content for _ in range(3)]

    first, second, third = anyio.run(main)
    assert isinstance(first, dict) and first["items"] and second == first
    assert isinstance(third, dict) and third["code"] == "rate_limited" and "over its rate limit" in third["message"]
    for flags in (["--rate", "0"], ["--burst", "0"]):
        result = deskhand("serve", "mailbox", "--stdio", "--home", str(home), *flags)
        assert result.returncode == 2 and "--rate must be above 0 and --burst at least 1" in result.stderr


def test_serve_needs_exactly_one_transport(home: Path) -> None:
    result = deskhand("serve", "crm", "--home", str(home))
    assert result.returncode == 2 and "choose exactly one of --stdio or --http" in result.stderr
    result = deskhand("serve", "nope", "--stdio", "--home", str(home))
    assert result.returncode == 2 and "unknown server 'nope'" in result.stderr


def test_demo_runs_both_inboxes_through_the_coordinator_to_a_summary(tmp_path: Path) -> None:
    result = deskhand("demo", "--workspace", str(tmp_path / "demo"), timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "processing inbox" in out and "Inbox processed by the coordinator" in out
    assert "emails:" in out and "completed" in out and "escalated" in out and "awaiting approval" in out
    assert "Approvals waiting for a person" in out and "deskhand approvals approve AP-" in out
    assert "servers stopped" in out
    store = Store(f"sqlite:///{tmp_path / 'demo' / 'data' / 'coordinator.db'}")
    try:
        runs = store.runs()
        assert len(runs) >= 30 and all(r.status != "running" for r in runs)
        assert {r.tenant for r in runs} == {"acme", "northwind"}
        assert {r.status for r in runs} >= {"completed", "escalated", "awaiting_approval"}
        credits = [a for a in store.approvals() if a.tool == "crm.issue_credit"]
        assert [a.arguments["amount_cents"] for a in credits] == [2400]
        assert f"deskhand approvals approve {credits[0].id} --hash {credits[0].args_hash}" in out
        # the $1,140 refund is over the tool's cap: escalated when proposed, not parked for a person to approve
        assert any(r.status == "escalated" and "amount_cents" in r.reason for r in runs)
    finally:
        store.dispose()
