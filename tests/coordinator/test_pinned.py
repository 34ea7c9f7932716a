"""The isolation tier: a tenant pinned to servers of its own (own databases, own signing key), beside the shared
servers every other tenant uses; and the secrets around it (key files only their owner reads, no password in
deskhand.toml, no token echoed or logged)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path

import httpx2
import jwt
import pytest

from coordinator import Home
from coordinator._service import routes_of
from coordinator._sessions import http_connector
from coordinator._tokens import Attribution, DevKeys, TokenIssuer
from coordinator.cli._processes import free_port, running_servers
from coordinator.store import Store
from mcp_servers.kit import KeySet, PinnedVerifier, TokenRefused
from schemas import ConfigError
from tests.conftest import ISSUER, Issuer
from tests.coordinator.cli_helpers import ACME, DESKHAND, NORTHWIND, cli, deskhand
from tests.mcp_servers.helpers import ok

ACME_CUSTOMER = "priya.raman@brightloop.example.com"
NORTHWIND_CUSTOMER = "hannah.lindqvist@trailpost.example.org"
CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "find_customer", "arguments": {}}}


def pinned_home(path: Path) -> Home:
    """`deskhand init --pin acme` with both example tenants, every server (shared and pinned) on a free port."""
    result = cli("--home", str(path), "init", "--pin", "acme", "--tenants", ACME, "--tenants", NORTHWIND)
    assert result.exit_code == 0, result.stderr
    home = Home.load(path)
    home = replace(
        home.with_servers({n: replace(s, url=f"http://127.0.0.1:{free_port()}/mcp") for n, s in home.servers.items()}),
        pinned={
            t: {n: replace(s, url=f"http://127.0.0.1:{free_port()}/mcp") for n, s in tier.items()}
            for t, tier in home.pinned.items()
        },
    )
    home.save()
    return home


def tenants_in(db_url: str) -> set[str]:
    """The tenants that own any row of any table of a server's SQLite database (the audit rows of calls refused
    before any tenant was known, whose tenant is empty, aside)."""
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        tables = [row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")]
        found: set[str] = set()
        for table in tables:
            columns = [row[1] for row in conn.execute(f'pragma table_info("{table}")')]
            if "tenant_id" in columns:
                found |= {row[0] for row in conn.execute(f'select distinct tenant_id from "{table}"') if row[0]}
    return found


def test_init_pin_gives_the_tenant_its_own_key_servers_and_databases_and_loads_it_there_only(tmp_path: Path) -> None:
    home = pinned_home(tmp_path / "home")
    assert set(home.pinned) == {"acme"} and set(home.pinned["acme"]) == set(home.servers)
    shared_kid = DevKeys.load(home.keys_dir).kid
    acme_keys = DevKeys.load(home.tenant_keys_dir("acme"))
    assert acme_keys.kid != shared_kid
    assert (home.tenant_keys_dir("acme") / "signing-key.pem").stat().st_mode & 0o777 == 0o600
    for name, pinned in home.pinned["acme"].items():
        assert pinned.url != home.servers[name].url and pinned.db != home.servers[name].db
        assert tenants_in(pinned.db) <= {"acme"} and tenants_in(home.servers[name].db) <= {"northwind"}
    assert tenants_in(home.pinned["acme"]["crm"].db) == {"acme"}
    assert tenants_in(home.servers["crm"].db) == {"northwind"}
    again = cli("--home", str(home.path), "init", "--pin", "acme", "--tenants", ACME)
    assert again.exit_code == 0, again.stderr  # idempotent
    assert Home.load(home.path).pinned == home.pinned

    listed = json.loads(cli("--home", str(home.path), "-o", "json", "server", "list").stdout)
    assert {(s["tenant"], s["name"]): s["url"] for s in listed}[("acme", "crm")] == home.pinned["acme"]["crm"].url
    minted = cli("--home", str(home.path), "-o", "json", "token", "mint", "--tenant", "acme", "--scopes", "crm:read")
    assert minted.exit_code == 0, minted.stderr
    token = json.loads(minted.stdout)
    assert token["audience"] == [home.pinned["acme"]["crm"].url]
    assert jwt.get_unverified_header(token["token"])["kid"] == acme_keys.kid
    shared = cli(
        "--home", str(home.path), "-o", "json", "token", "mint", "--tenant", "northwind", "--scopes", "crm:read"
    )
    assert jwt.get_unverified_header(json.loads(shared.stdout)["token"])["kid"] == shared_kid


def test_a_tenant_already_loaded_into_the_shared_servers_cannot_be_pinned_afterwards(tmp_path: Path) -> None:
    assert cli("--home", str(tmp_path), "init", "--tenants", ACME).exit_code == 0
    result = cli("--home", str(tmp_path), "init", "--pin", "acme", "--tenants", ACME)
    assert result.exit_code != 0
    assert "already loaded into the shared servers" in result.stderr
    assert Home.load(tmp_path).pinned == {}
    unknown = cli("--home", str(tmp_path / "other"), "init", "--pin", "northwind", "--tenants", ACME)
    assert unknown.exit_code != 0 and "give its tenant file" in unknown.stderr


@pytest.mark.anyio
async def test_a_pinned_verifier_refuses_a_verified_token_of_another_tenant(issuer: Issuer) -> None:
    verifier = PinnedVerifier(KeySet(issuer.keys.jwks(), source="test"), tenant="acme", issuer=ISSUER, audience="u:x")
    _, principal = await verifier.verify(issuer.token("acme", ["crm:read"], audience="u:x"))
    assert principal.tenant == "acme"
    with pytest.raises(TokenRefused) as refused:
        await verifier.verify(issuer.token("northwind", ["crm:read"], audience="u:x"))
    assert refused.value.reason == "wrong_tenant"


def test_a_signing_key_others_may_read_is_refused_and_init_stops_on_it(tmp_path: Path) -> None:
    keys = DevKeys.create(tmp_path / "keys")
    key_file = tmp_path / "keys" / "signing-key.pem"
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        DevKeys.load(tmp_path / "keys")
    result = cli("--home", str(tmp_path), "init")
    assert result.exit_code != 0 and "chmod 600" in result.stderr
    assert not (tmp_path / "deskhand.toml").exists()  # nothing written past the refusal
    key_file.chmod(0o600)
    assert DevKeys.load(tmp_path / "keys").kid == keys.kid


def test_a_database_password_in_deskhand_toml_is_refused_naming_the_field(tmp_path: Path) -> None:
    assert cli("--home", str(tmp_path), "init").exit_code == 0
    config = tmp_path / "deskhand.toml"
    config.write_text(
        config.read_text() + '\n[pinned.acme.crm]\nurl = "http://127.0.0.1:9/mcp"\n'
        'db = "postgresql://deskhand:hunter2@127.0.0.1:5432/crm"\n'
    )
    with pytest.raises(ConfigError) as caught:
        Home.load(tmp_path)
    assert caught.value.field == "pinned.acme.crm.db" and "PGPASSWORD" in caught.value.message
    assert "hunter2" not in caught.value.message


@pytest.mark.slow
def test_a_pinned_stdio_server_refuses_another_tenants_token_without_echoing_it(tmp_path: Path) -> None:
    home = pinned_home(tmp_path / "home")
    token = TokenIssuer(DevKeys.load(home.tenant_keys_dir("acme")), issuer=home.issuer).mint(
        tenant="northwind", scopes=["crm:read"], audience=home.pinned["acme"]["crm"].url
    )
    result = deskhand(
        "--home", str(home.path), "server", "serve", "crm", "--tenant", "acme", "--stdio", env={"DESKHAND_TOKEN": token}
    )
    assert result.returncode != 0
    assert "pinned to 'acme'" in result.stderr
    assert token not in result.stderr + result.stdout
    assert token.split(".")[2] not in result.stderr + result.stdout  # nor its signature alone


@pytest.mark.slow
@pytest.mark.anyio
async def test_pinned_and_shared_servers_side_by_side_refuse_each_others_tokens_with_401(tmp_path: Path) -> None:
    home = pinned_home(tmp_path / "home")
    pinned_url, shared_url = home.pinned["acme"]["crm"].url, home.servers["crm"].url
    shared_issuer = TokenIssuer(DevKeys.load(home.keys_dir), issuer=home.issuer)
    acme_issuer = TokenIssuer(DevKeys.load(home.tenant_keys_dir("acme")), issuer=home.issuer)
    refused = {
        # the shared issuer signed it, for acme and for the pinned server: the pinned server trusts acme's key only
        "shared key, acme": (pinned_url, shared_issuer.mint(tenant="acme", scopes=["crm:read"], audience=pinned_url)),
        "acme's key, northwind": (
            pinned_url,
            acme_issuer.mint(tenant="northwind", scopes=["crm:read"], audience=pinned_url),
        ),
        "acme's key at the shared server": (
            shared_url,
            acme_issuer.mint(tenant="acme", scopes=["crm:read"], audience=shared_url),
        ),
    }
    with running_servers(home, only=["crm", "acme/crm"]) as servers:
        async with httpx2.AsyncClient(timeout=30) as http:
            for what, (url, token) in refused.items():
                answer = await http.post(
                    url,
                    json=CALL,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
                )
                assert answer.status_code == 401, what
                said = answer.text + json.dumps(dict(answer.headers))
                assert token not in said and token.split(".")[2] not in said, what
            wrong_tenant = refused["acme's key, northwind"][1]
            scrape = {}
            for which, args in {"shared": (), "acme": ("--tenant", "acme")}.items():
                minted = cli("--home", str(home.path), "token", "metrics", *args)
                assert minted.exit_code == 0, minted.stderr
                scrape[which] = minted.stdout.strip()
            metrics_url = pinned_url.removesuffix("/mcp") + "/metrics"
            scraped = await http.get(metrics_url, headers={"Authorization": f"Bearer {scrape['acme']}"})
            assert scraped.status_code == 200 and "deskhand_token_refusals_total" in scraped.text
            assert 'reason="wrong_tenant"' in scraped.text and 'reason="unknown_key"' in scraped.text
            shared_scrape = await http.get(metrics_url, headers={"Authorization": f"Bearer {scrape['shared']}"})
            assert shared_scrape.status_code == 401
            mcp = await http.post(
                pinned_url,
                json=CALL,
                headers={"Authorization": f"Bearer {scrape['acme']}", "Accept": "application/json, text/event-stream"},
            )
            assert mcp.status_code == 401  # bound to every tenant, it is no tenant's: no tool for it
        connect = http_connector(routes_of(home))
        caller = Attribution.specialist("pinned-test")
        async with connect("acme", "crm", ["crm:read"], caller) as client:
            found = ok(await client.call_tool("find_customer", {"email": ACME_CUSTOMER}))
            assert found["customer"]["name"] == "Priya Raman"
        async with connect("northwind", "crm", ["crm:read"], caller) as client:
            found = ok(await client.call_tool("find_customer", {"email": NORTHWIND_CUSTOMER}))
            assert found["customer"]["name"] == "Hannah Lindqvist"
            assert ok(await client.call_tool("find_customer", {"email": ACME_CUSTOMER}))["customer"] is None
    logs = "".join(s.log.read_text(errors="replace") for s in servers.values())
    assert all(token not in logs and token.split(".")[2] not in logs for _, token in refused.values())
    assert wrong_tenant not in logs
    # each server's audit: acme's call at the pinned server only, northwind's at the shared one only
    assert tenants_in(home.pinned["acme"]["crm"].db) == {"acme"}
    assert tenants_in(home.servers["crm"].db) == {"northwind"}


@pytest.mark.slow
def test_demo_with_a_pinned_tenant_completes_both_inboxes_and_keeps_its_rows_in_its_own_databases(
    tmp_path: Path,
) -> None:
    workspace = tmp_path / "demo"
    result = subprocess.run(
        [DESKHAND, "demo", "--pin", "acme", "--workspace", str(workspace)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "acme is pinned" in result.stdout and "acme/crm" in result.stdout
    store = Store(f"sqlite:///{workspace / 'data' / 'coordinator.db'}")
    try:
        runs = store.runs()
        assert {r.tenant for r in runs} == {"acme", "northwind"}
        assert all(r.status != "running" for r in runs)
        assert {r.status for r in runs if r.tenant == "acme"} >= {"completed"}
        assert {r.status for r in runs if r.tenant == "northwind"} >= {"completed"}
    finally:
        store.dispose()
    home = Home.load(workspace)
    for name, pinned in home.pinned["acme"].items():
        assert tenants_in(pinned.db) == {"acme"}, name
        assert tenants_in(home.servers[name].db) == {"northwind"}, name
    logs = "".join(p.read_text(errors="replace") for p in (workspace / "logs").glob("*.log"))
    assert "eyJ" not in logs  # no JWT (base64url JSON header) in any server's log


def test_a_refused_approver_token_is_not_echoed_by_the_command_line(tmp_path: Path) -> None:
    home = pinned_home(tmp_path / "home")
    token = TokenIssuer(DevKeys.load(home.tenant_keys_dir("acme")), issuer=home.issuer).mint(
        tenant="acme", scopes=[], audience=home.approvals_audience, roles=["approver"]
    )  # signed by acme's key, which the approvals audience does not trust
    result = cli(
        "--home", str(home.path), "approvals", "approve", "AP-000000000000", "--hash", "0" * 64, "--token", token
    )
    assert result.exit_code != 0 and "unknown" in result.stderr
    assert token not in result.stdout + result.stderr and token.split(".")[2] not in result.stdout + result.stderr


def pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return raw.decode()


def test_signing_keys_from_the_environment_are_used_and_never_written_to_a_file(tmp_path: Path) -> None:
    env = {"DESKHAND_SIGNING_KEY": pem(), "DESKHAND_SIGNING_KEY_ACME": pem()}
    home_dir = tmp_path / "home"
    result = cli("--home", str(home_dir), "init", "--pin", "acme", "--tenants", ACME, "--tenants", NORTHWIND, env=env)
    assert result.exit_code == 0, result.stderr
    home = Home.load(home_dir)
    assert not (home.keys_dir / "signing-key.pem").exists()
    assert not (home.tenant_keys_dir("acme") / "signing-key.pem").exists()
    published = {
        json.loads((d / "jwks.json").read_text())["keys"][0]["kid"]
        for d in (home.keys_dir, home.tenant_keys_dir("acme"))
    }
    for tenant in ("northwind", "acme"):
        minted = cli(
            "--home", str(home_dir), "-o", "json", "token", "mint", "--tenant", tenant, "--scopes", "crm:read", env=env
        )
        assert minted.exit_code == 0, minted.stderr
        assert jwt.get_unverified_header(json.loads(minted.stdout)["token"])["kid"] in published
    without = cli("--home", str(home_dir), "token", "mint", "--tenant", "acme", "--scopes", "crm:read")
    assert without.exit_code != 0 and "signing-key.pem" in without.stderr  # no file to fall back on
    assert env["DESKHAND_SIGNING_KEY"] not in result.stdout + result.stderr
