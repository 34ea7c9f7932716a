"""`deskhand work --metrics` and `deskhand token metrics` at the command line (the scrapes themselves: test_metrics)."""

from __future__ import annotations

import jwt
import pytest

from coordinator import Home
from tests.coordinator.cli_helpers import ACME, cli, init_on_free_ports

pytestmark = pytest.mark.slow  # `deskhand init` takes a few seconds


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return init_on_free_ports(tmp_path_factory.mktemp("home"), ACME)


def test_work_refuses_a_metrics_address_that_is_not_host_and_port_before_starting(home: Home) -> None:
    for address in ("9464", "127.0.0.1:port", "127.0.0.1:99999"):
        result = cli("--home", str(home.path), "work", "--metrics", address)
        assert result.exit_code == 1, address
        assert "config_error" in result.stderr and "--metrics" in result.stderr, result.stderr


def test_token_metrics_is_every_tenants_with_the_metrics_role_for_the_servers_and_the_api(home: Home) -> None:
    result = cli("--home", str(home.path), "token", "metrics", "--ttl", "2h")
    assert result.exit_code == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["deskhand/all_tenants"] is True and "tenant" not in claims
    assert claims["roles"] == ["metrics"] and claims["scope"] == ""
    assert sorted(claims["aud"]) == sorted([s.url for s in home.servers.values()] + [home.api_audience])
    assert claims["exp"] - claims["iat"] == 7200
