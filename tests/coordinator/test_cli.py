"""The `deskhand` command line: arguments, validation and output in process; serving (HTTP, stdio) and the demo
as real processes."""

from __future__ import annotations

import json
import os
import signal
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
from tests.conftest import REPO
from tests.coordinator.cli_helpers import ACME, DESKHAND, NORTHWIND, cli


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("home")
    result = cli("--home", str(path), "init", "--tenants", ACME, "--tenants", NORTHWIND)
    assert result.exit_code == 0, result.stderr
    assert "acme: loaded" in result.stdout and "northwind: loaded" in result.stdout
    return path


def mint(home: Path, tenant: str, scopes: str) -> str:
    result = cli("--home", str(home), "token", "mint", "--tenant", tenant, "--scopes", scopes)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


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
    again = cli("--home", str(home), "init", "--tenants", ACME, "--tenants", NORTHWIND)
    assert again.exit_code == 0, again.stderr
    assert "acme: unchanged" in again.stdout and "northwind: unchanged" in again.stdout
    assert ": loaded" not in again.stdout
    assert config.jwks_path.read_text() == jwks_before
    assert count(config.servers["crm"].db, CustomerRow) == customers


def test_init_with_a_bad_tenant_file_names_it_and_creates_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(ACME).read_text().replace("queue: billing", "queue: Billing Team!", 1))
    result = cli("--home", str(tmp_path / "home"), "init", "--tenants", str(bad))
    assert result.exit_code == 1 and "config_error" in result.stderr
    assert "bad.yaml" in result.stderr and "policy.categories[0].queue" in result.stderr
    assert not (tmp_path / "home").exists()


def test_token_mint_signs_a_least_privilege_token_the_servers_trust(home: Path) -> None:
    token = mint(home, "acme", "crm:read,kb:read")
    config = Home.load(home)
    for server in ("crm", "knowledge"):
        verifier = JwtVerifier(
            KeySet.from_file(config.jwks_path), issuer=config.issuer, audience=config.servers[server].url
        )
        principal = anyio.run(verifier.verify_principal, token)
        assert principal.tenant == "acme" and principal.scopes == frozenset({"crm:read", "kb:read"})
    helpdesk = JwtVerifier(
        KeySet.from_file(config.jwks_path), issuer=config.issuer, audience=config.servers["helpdesk"].url
    )
    assert anyio.run(helpdesk.verify_token, token) is None


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--tenant", "acme", "--scopes", "crm:everything"], "config_error", "unknown scopes"),
        (["--tenant", "Acme Corp", "--scopes", "crm:read"], "config_error", "--tenant 'Acme Corp'"),
        (["--tenant", "acme"], "config_error", "give --scopes or --role"),
        (["--tenant", "acme", "--scopes", "crm:read", "--ttl", "forever"], "config_error", "ttl 'forever'"),
        (["--tenant", "globex", "--scopes", "crm:read"], "not_found", "known: ['acme', 'northwind']"),
    ],
)
def test_token_mint_refuses_bad_input_clearly(home: Path, args: list[str], code: str, message: str) -> None:
    result = cli("--home", str(home), "token", "mint", *args)
    assert result.exit_code == 1
    assert f"error ({code})" in result.stderr and message in result.stderr
    assert result.stdout == ""


def test_token_mint_offers_only_the_builtin_roles_and_a_role_gives_its_scopes(home: Path) -> None:
    typo = cli("--home", str(home), "token", "mint", "--tenant", "acme", "--role", "aprover")
    assert typo.exit_code == 2 and "aprover" in typo.stderr  # a usage error: Click lists the choices
    result = cli("--home", str(home), "-o", "json", "token", "mint", "--tenant", "acme", "--role", "reader")
    assert result.exit_code == 0, result.stderr
    minted = json.loads(result.stdout)
    assert minted["tenant"] == "acme" and minted["scopes"] == ["crm:read", "helpdesk:read", "kb:read", "mail:read"]
    assert minted["token"].count(".") == 2


def test_commands_before_init_say_to_run_init(tmp_path: Path) -> None:
    result = cli("--home", str(tmp_path), "token", "mint", "--tenant", "acme", "--scopes", "crm:read")
    assert result.exit_code == 1 and "config_error" in result.stderr and "run `deskhand init" in result.stderr


def test_the_home_comes_from_the_environment_when_not_given(home: Path) -> None:
    result = cli("-o", "json", "server", "list", env={"DESKHAND_HOME": str(home)})
    assert result.exit_code == 0, result.stderr
    assert [s["name"] for s in json.loads(result.stdout)] == ["crm", "helpdesk", "knowledge", "mailbox"]


def test_version_is_the_installed_package_version() -> None:
    from importlib.metadata import version

    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"deskhand {version('deskhand')}"


@pytest.mark.parametrize(
    "command",
    [[], ["work"], ["init"], ["server", "serve"], ["token", "mint"], ["approvals", "approve"], ["eval", "promote"]],
)
def test_help_shows_no_type_noise_and_completion_is_offered(command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.stderr
    assert "<bool>" not in result.stdout and "<str>" not in result.stdout and "<path>" not in result.stdout
    if not command:
        assert "--install-completion" in result.stdout and "--version" in result.stdout


def test_eval_promote_has_its_own_help() -> None:
    result = cli("eval", "promote", "--help")
    assert result.exit_code == 0 and "--suite" in result.stdout and "RUN_ID" in result.stdout
    assert "--baseline" not in result.stdout  # not `eval run`'s help


def test_db_current_and_upgrade_report_the_store_schema(tmp_path: Path) -> None:
    from coordinator.store import LATEST

    db = f"sqlite:///{tmp_path / 'store.db'}"
    before = cli("-o", "json", "db", "current", "--db", db)
    assert before.exit_code == 0, before.stderr
    assert json.loads(before.stdout)["version"] is None and len(json.loads(before.stdout)["pending"]) == LATEST
    dry = cli("-o", "json", "db", "upgrade", "--db", db, "--dry-run")
    assert json.loads(dry.stdout)["to"] is None
    upgraded = cli("-o", "json", "db", "upgrade", "--db", db)
    assert upgraded.exit_code == 0, upgraded.stderr
    assert json.loads(upgraded.stdout) == {
        "from": None,
        "to": LATEST,
        "applied": list(range(1, LATEST + 1)),
        "pending": list(range(1, LATEST + 1)),
    }
    after = cli("db", "current", "--db", db)
    assert f"schema version {LATEST}; latest {LATEST}" in after.stdout and "pending" not in after.stdout
    again = cli("db", "upgrade", "--db", db)
    assert again.exit_code == 0 and "up to date" in again.stdout


def test_server_list_shows_each_server_url_whole_at_a_narrow_width(home: Path) -> None:
    config = Home.load(home)
    result = cli("--home", str(home), "server", "list", columns=60)
    assert result.exit_code == 0, result.stderr
    for server in config.servers.values():
        assert server.url in result.stdout


def test_init_prints_json_for_scripts(tmp_path: Path) -> None:
    result = cli("--home", str(tmp_path / "h"), "-o", "json", "init", "--tenants", ACME)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tenants"] == {"acme": "loaded"} and set(data["servers"]) == {"crm", "helpdesk", "knowledge", "mailbox"}


def test_init_takes_several_tenant_files_after_one_flag_as_a_shell_glob_gives(tmp_path: Path) -> None:
    wheelhouse = str(REPO / "tests" / "data" / "tenants" / "wheelhouse.yaml")
    result = cli("--home", str(tmp_path / "h"), "-o", "json", "init", "--tenants", ACME, NORTHWIND, wheelhouse)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["tenants"] == {"acme": "loaded", "northwind": "loaded", "wheelhouse": "loaded"}
    assert set(Home.load(tmp_path / "h").tenants) == {"acme", "northwind", "wheelhouse"}
    again = cli("--home", str(tmp_path / "h"), "-o", "json", "init", "--tenants", ACME, "--tenants", wheelhouse)
    assert json.loads(again.stdout)["tenants"] == {"acme": "unchanged", "wheelhouse": "unchanged"}


@pytest.fixture
def served(home: Path) -> Iterator[Home]:
    """The four servers of `home` as real processes on free ports, stopped (and audit flushed) after."""
    config = Home.load(home)
    moved = config.with_servers(
        {name: type(s)(name, f"http://127.0.0.1:{free_port()}/mcp", s.db) for name, s in config.servers.items()}
    )
    moved.save()
    try:
        with running_servers(moved, only=["crm"]):
            yield moved
    finally:
        config.save()


def test_served_crm_answers_the_sdk_client_with_a_minted_token(served: Home) -> None:
    token = mint(served.path, "northwind", "crm:read")
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
    moved = config.with_servers(
        {name: type(s)(name, f"http://127.0.0.1:{free_port()}/mcp", s.db) for name, s in config.servers.items()}
    )
    before = count(config.servers["knowledge"].db, AuditRecord)
    moved.save()
    try:
        with running_servers(moved, only=["knowledge"]):
            token = mint(home, "acme", "kb:read")

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
    token = mint(home, "acme", "mail:read")
    params = StdioServerParameters(
        command=DESKHAND,
        args=["--home", str(home), "server", "serve", "mailbox", "--stdio"],
        env={"DESKHAND_TOKEN": token},
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
        [DESKHAND, "--home", str(home), "server", "serve", "crm", "--stdio"],
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert ("config_error" if not token else "unauthenticated") in result.stderr


def test_serve_takes_the_tenant_rate_limit_from_its_flags(home: Path) -> None:
    token = mint(home, "acme", "mail:read")
    params = StdioServerParameters(
        command=DESKHAND,
        args=["--home", str(home), "server", "serve", "mailbox", "--stdio", "--rate", "0.001", "--burst", "2"],
        env={"DESKHAND_TOKEN": token},
    )

    async def main() -> list[object]:
        async with Client(params) as client:
            return [(await client.call_tool("list_inbox", {})).structured_content for _ in range(3)]

    first, second, third = anyio.run(main)
    assert isinstance(first, dict) and first["items"] and second == first
    assert isinstance(third, dict) and third["code"] == "rate_limited" and "over its rate limit" in third["message"]


def test_serve_refuses_a_rate_or_burst_that_cannot_work(home: Path) -> None:
    for flags in (["--rate", "0"], ["--burst", "0"]):
        result = cli("--home", str(home), "server", "serve", "mailbox", "--stdio", *flags)
        assert result.exit_code == 1 and "config_error" in result.stderr and "--rate must be above 0" in result.stderr


def test_serve_needs_exactly_one_transport_and_a_known_server(home: Path) -> None:
    result = cli("--home", str(home), "server", "serve", "crm")
    assert result.exit_code == 1 and "config_error" in result.stderr and "--stdio or --http" in result.stderr
    result = cli("--home", str(home), "server", "serve", "nope", "--stdio")
    assert result.exit_code == 1 and "config_error" in result.stderr and "unknown server 'nope'" in result.stderr
    assert "'crm', 'helpdesk', 'knowledge', 'mailbox'" in result.stderr  # what it could have been


DEPRECATED = "deprecated:"


def test_the_old_serve_spelling_still_works_and_says_it_is_deprecated(home: Path) -> None:
    result = cli("serve", "crm", "--home", str(home))  # `deskhand serve NAME ... --home H`: two old spellings
    assert result.stderr.count(DEPRECATED) == 2 and "server serve" in result.stderr
    assert result.exit_code == 1 and "--stdio or --http" in result.stderr  # it reached `server serve`


def test_the_old_home_after_the_command_still_works_and_says_it_is_deprecated(home: Path) -> None:
    result = cli("-o", "json", "server", "list", f"--home={home}")
    assert result.exit_code == 0, result.stderr
    assert DEPRECATED in result.stderr and "--home" in result.stderr
    assert json.loads(result.stdout)[0]["name"] == "crm"


def test_the_old_eval_spelling_runs_eval_run_and_says_it_is_deprecated(tmp_path: Path) -> None:
    result = cli("eval", str(tmp_path))  # not a suite: `eval run`'s own error
    assert DEPRECATED in result.stderr and "eval run" in result.stderr
    assert result.exit_code == 1 and "config_error" in result.stderr and "scenarios.jsonl" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected", "notes"),
    [
        (["serve", "crm", "--stdio"], ["server", "serve", "crm", "--stdio"], 1),
        (["work", "--home", "H", "--until-idle"], ["--home", "H", "work", "--until-idle"], 1),
        (["-o", "json", "token", "mint", "--home=H"], ["-o", "json", "--home=H", "token", "mint"], 1),
        (["eval", "SUITE", "--json", "r.json"], ["eval", "run", "SUITE", "--json", "r.json"], 1),
        (["eval", "promote", "R-1", "--suite", "S"], ["eval", "promote", "R-1", "--suite", "S"], 0),
        (["--home", "H", "server", "serve", "crm"], ["--home", "H", "server", "serve", "crm"], 0),
        (["submit", "--", "--home"], ["submit", "--", "--home"], 0),
    ],
)
def test_old_spellings_are_rewritten_to_the_new_ones(args: list[str], expected: list[str], notes: int) -> None:
    from coordinator.cli._legacy import rewrite

    rewritten, said = rewrite(args)
    assert rewritten == expected and len(said) == notes


def test_the_cli_choices_match_the_backends_and_roles_they_offer() -> None:
    from coordinator.cli._context import Role
    from schemas import BUILTIN_ROLES

    assert [r.value for r in Role] == list(BUILTIN_ROLES)


@pytest.mark.slow
def test_demo_runs_both_inboxes_through_the_coordinator_to_a_summary(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"  # the examples come with the package, not from the current directory
    elsewhere.mkdir()
    result = subprocess.run(
        [DESKHAND, "demo", "--workspace", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "60"},  # a narrow terminal: ids are still printed whole
        cwd=elsewhere,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "processing inbox" in out and "Inbox processed by the coordinator" in out
    assert "emails:" in out and "completed" in out and "escalated" in out and "awaiting approval" in out
    assert "Approvals waiting for a person" in out and "approvals approve AP-" in out
    assert "servers stopped" in out
    store = Store(f"sqlite:///{tmp_path / 'demo' / 'data' / 'coordinator.db'}")
    try:
        runs = store.runs()
        assert len(runs) >= 30 and all(r.status != "running" for r in runs)
        assert {r.tenant for r in runs} == {"acme", "northwind"}
        assert {r.status for r in runs} >= {"completed", "escalated", "awaiting_approval"}
        credits = [a for a in store.approvals() if a.tool == "crm.issue_credit"]
        assert [a.arguments["amount_cents"] for a in credits] == [2400]
        assert f"approvals approve {credits[0].id} --hash {credits[0].args_hash}" in out
        assert all(a.id in out for a in store.approvals()) and all(r.source_key in out for r in runs)
        # the $1,140 refund is over the tool's cap: escalated when proposed, not parked for a person to approve
        assert any(r.status == "escalated" and "amount_cents" in r.reason for r in runs)
    finally:
        store.dispose()


def test_demo_refuses_a_workflow_choice_it_cannot_read() -> None:
    result = cli("demo", "--workflow", "northwind")
    assert result.exit_code == 2 and "TENANT=NAME" in result.stderr


@pytest.mark.slow
def test_demo_with_console_serves_the_api_and_console_until_ctrl_c(tmp_path: Path) -> None:
    """`deskhand demo --console`: after the summary, the command that shows one run, then the console's address
    and a viewer token; the API answers that token with the demo's runs; Ctrl-C stops it all cleanly."""
    demo = subprocess.Popen(
        [DESKHAND, "demo", "--console", "--workspace", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert demo.stdout is not None
        seen: list[str] = []
        for line in demo.stdout:  # each line as the demo prints it, until the console's token
            seen.append(line)
            if seen[-2:-1] and seen[-2].startswith("viewer token"):
                break
        out = "".join(seen)
        assert "runs show R-" in out, out[-3000:]
        url = out.split("console: ", 1)[1].split("/console/", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        token = seen[-1].strip()
        with httpx2.Client(base_url=url, timeout=30) as client:
            assert client.get("/console/login").status_code == 200
            runs = client.get("/v1/runs", params={"limit": 100}, headers={"authorization": f"Bearer {token}"})
            assert runs.status_code == 200, runs.text
            shown = out.split("runs show ", 1)[1].split()[0]
            assert shown in {r["id"] for r in runs.json()["runs"]}
            refused = client.get("/v1/runs", headers={"authorization": "Bearer not-a-token"})
            assert refused.status_code == 401
        demo.send_signal(signal.SIGINT)
        rest, errors = demo.communicate(timeout=60)
        assert demo.returncode == 0, errors[-3000:]
        assert "servers stopped" in rest
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
