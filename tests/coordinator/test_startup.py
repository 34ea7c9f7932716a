"""Start-up: `deskhand serve` and `deskhand work` import only what they use, and the readiness wait names a
server that cannot start."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import replace

import pytest

from coordinator import Home
from coordinator.cli._processes import free_port, running_servers
from schemas import ConfigError
from tests.coordinator.cli_helpers import ACME, init_on_free_ports


def imported_by(*args: str) -> set[str]:
    """The modules a `deskhand` command imports (from `python -X importtime`)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "coordinator.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return init_on_free_ports(tmp_path_factory.mktemp("home"), ACME)


def test_serve_imports_neither_the_coordinator_runtime_nor_the_anthropic_sdk() -> None:
    modules = imported_by("server", "serve", "--help")
    assert "coordinator.runtime" not in modules and "coordinator._worker" not in modules
    assert not {m for m in modules if m.split(".")[0] == "anthropic"}


@pytest.mark.slow
def test_work_with_the_offline_model_does_not_import_the_anthropic_sdk(home: Home) -> None:
    heard: list[str] = []
    with running_servers(home, progress=heard.append):
        modules = imported_by("work", "--home", str(home.path), "--until-idle")
    assert "coordinator.runtime" in modules  # it did run the runtime
    assert not {m for m in modules if m.split(".")[0] == "anthropic"}
    assert heard and all(name in heard[0] for name in home.servers)  # the wait said what it waited for


def test_a_server_whose_port_is_taken_fails_the_start_naming_it_with_its_last_log_line(home: Home) -> None:
    port = int(home.servers["crm"].url.split(":")[2].split("/")[0])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(ConfigError) as caught, running_servers(home, only=["crm", "knowledge"]):
            pass
    assert (caught.value.code, caught.value.field) == ("config_error", "crm")
    assert "address already in use" in caught.value.message.lower()  # the server's last log line


def test_a_server_that_does_not_answer_within_the_ceiling_is_named(home: Home) -> None:
    with pytest.raises(ConfigError) as caught, running_servers(home, only=["mailbox"], ready_timeout=0.0):
        pass
    assert (caught.value.code, caught.value.field) == ("config_error", "mailbox")


def test_a_server_whose_port_another_server_answers_on_is_refused_before_anything_starts(home: Home) -> None:
    with running_servers(home, only=["crm"]) as first:  # a server of an earlier run, still up
        with pytest.raises(ConfigError) as caught, running_servers(home, only=["crm", "knowledge"]):
            pass
        assert first["crm"].process.poll() is None  # untouched
    assert (caught.value.code, caught.value.field) == ("config_error", "crm")
    assert "address already in use" in caught.value.message.lower()


def test_two_servers_on_one_port_are_refused_naming_the_second(home: Home) -> None:
    url = home.servers["crm"].url
    shared = home.with_servers({"crm": home.servers["crm"], "helpdesk": replace(home.servers["helpdesk"], url=url)})
    with pytest.raises(ConfigError) as caught, running_servers(shared, only=["crm", "helpdesk"]):
        pass
    assert (caught.value.code, caught.value.field) == ("config_error", "helpdesk")
    assert "crm" in caught.value.message and url in caught.value.message


def test_a_server_url_whose_port_is_out_of_range_is_refused_naming_it(home: Home) -> None:
    wrong = home.with_servers({"crm": replace(home.servers["crm"], url="http://127.0.0.1:99999/mcp")})
    with pytest.raises(ConfigError) as caught, running_servers(wrong, only=["crm"]):
        pass
    assert (caught.value.code, caught.value.field) == ("config_error", "crm")
    assert "99999" in caught.value.message


def test_free_ports_are_never_handed_out_twice_in_one_process() -> None:
    # the system may give a just-released port again: a home given four ports in a row must get four
    ports = [free_port() for _ in range(1000)]
    assert len(set(ports)) == len(ports)
