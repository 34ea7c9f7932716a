"""`deskhand api token` mints what the API takes (and no MCP server does), and `deskhand api serve` serves it as a
process of its own on the home's store until SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import anyio
import httpx2
import pytest

from coordinator import Home
from coordinator.cli._processes import free_port
from mcp_servers.kit import JwtVerifier, KeySet, TokenRefused
from tests.coordinator.cli_helpers import ACME, DESKHAND, NORTHWIND, cli, init_on_free_ports


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return init_on_free_ports(tmp_path_factory.mktemp("home"), ACME, NORTHWIND)


def mint(home: Home, *args: str) -> str:
    result = cli("--home", str(home.path), "api", "token", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def test_api_token_mints_a_tenant_or_platform_token_for_the_api_audience(home: Home) -> None:
    import jwt

    tenant = jwt.decode(mint(home, "--tenant", "acme", "--role", "viewer"), options={"verify_signature": False})
    assert tenant["tenant"] == "acme" and tenant["roles"] == ["viewer"] and tenant["aud"] == home.api_audience
    everyone = jwt.decode(
        mint(home, "--all-tenants", "--role", "approver", "--role", "operator"), options={"verify_signature": False}
    )
    assert "tenant" not in everyone and everyone["deskhand/all_tenants"] is True
    assert everyone["roles"] == ["approver", "operator"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--role", "viewer"), "config_error"),
        (("--tenant", "acme", "--all-tenants", "--role", "viewer"), "config_error"),
        (("--tenant", "globex", "--role", "viewer"), "not_found"),
    ],
)
def test_api_token_refuses_what_it_cannot_mint(home: Home, args: tuple[str, ...], code: str) -> None:
    result = cli("--home", str(home.path), "api", "token", *args)
    assert result.exit_code == 1 and code in result.stderr


def test_api_token_offers_the_api_roles_and_no_other() -> None:
    from coordinator.api import API_ROLES
    from coordinator.cli._api import ApiRoleChoice

    assert tuple(ApiRoleChoice) == API_ROLES
    result = cli("api", "token", "--tenant", "acme", "--role", "admin")
    assert result.exit_code == 2 and "'admin' is not one of" in result.stderr


def test_a_platform_token_is_refused_by_the_mcp_servers(home: Home) -> None:
    from coordinator._tokens import DevKeys, TokenIssuer

    issuer = TokenIssuer(DevKeys.load(home.keys_dir), issuer=home.issuer)
    crm = home.servers["crm"].url
    token = issuer.mint(tenant=None, scopes=["crm:read"], audience=crm)
    verifier = JwtVerifier(KeySet.from_file(home.jwks_path), issuer=home.issuer, audience=crm)
    with pytest.raises(TokenRefused) as refused:
        anyio.run(verifier.verify, token)
    assert refused.value.reason == "claims_malformed"


@pytest.mark.slow
def test_api_serve_answers_over_http_until_sigint(home: Home, tmp_path: Path) -> None:
    email = tmp_path / "email.json"
    email.write_text(json.dumps({"from": "a@b.test", "subject": "Served", "body": "y"}), encoding="utf-8")
    submitted = cli("--home", str(home.path), "-o", "json", "submit", str(email), "--tenant", "acme")
    run_id = json.loads(submitted.stdout)["run"]
    port = free_port()
    with subprocess.Popen(
        [DESKHAND, "--home", str(home.path), "api", "serve", "--http", f"127.0.0.1:{port}"],
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        _serve_and_stop(process, home, port, run_id)


def _serve_and_stop(process: subprocess.Popen[str], home: Home, port: int, run_id: str) -> None:
    try:
        assert process.stderr is not None
        assert process.stderr.readline().startswith(f"deskhand api: serving http://127.0.0.1:{port}")
        token = mint(home, "--tenant", "acme", "--role", "viewer")
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert client.get("/readyz").json()["status"] == "ready"
            runs = client.get("/v1/runs", headers={"authorization": f"Bearer {token}"}).json()["runs"]
            assert [r["id"] for r in runs] == [run_id]
            assert client.get("/v1/runs").status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0


@pytest.mark.slow
def test_api_serve_trusts_an_external_identity_providers_jwks_url_instead_of_the_home(
    home: Home, tmp_path: Path
) -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from coordinator._tokens import DevKeys, TokenIssuer
    from tests.coordinator.api.conftest import serving_app

    idp_keys = DevKeys.create(tmp_path / "idp")
    idp = Starlette(routes=[Route("/jwks.json", lambda request: JSONResponse(idp_keys.jwks()))])
    port = free_port()
    with serving_app(idp) as idp_url:
        args = ["--jwks", f"{idp_url}/jwks.json", "--issuer", "https://idp.example"]
        with subprocess.Popen(
            [DESKHAND, "--home", str(home.path), "api", "serve", "--http", f"127.0.0.1:{port}", *args],
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            try:
                assert process.stderr is not None
                assert process.stderr.readline().startswith("deskhand api: serving")
                theirs = TokenIssuer(idp_keys, issuer="https://idp.example").mint(
                    tenant="acme", scopes=[], audience=home.api_audience, roles=["viewer"]
                )
                ours = mint(home, "--tenant", "acme", "--role", "viewer")
                with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                    accepted = client.get("/v1/runs", headers={"authorization": f"Bearer {theirs}"})
                    refused = client.get("/v1/runs", headers={"authorization": f"Bearer {ours}"})
                assert accepted.status_code == 200, accepted.text
                assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"
            finally:
                process.send_signal(signal.SIGINT)
                assert process.wait(timeout=30) == 0
