"""`deskhand submit`, `work`, `approvals`, `replay`, `eval promote` and `graph` as a user runs them (in process;
the servers they reach are real processes)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import Result

from coordinator import Home
from coordinator.cli._processes import running_servers
from coordinator.cli._runs import _Stopping
from coordinator.store import Store
from tests.conftest import REPO
from tests.coordinator.cli_helpers import ACME, NORTHWIND, cli, init_on_free_ports


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """Both tenants loaded; no server running."""
    return init_on_free_ports(tmp_path_factory.mktemp("home"), ACME, NORTHWIND)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    home = init_on_free_ports(tmp_path_factory.mktemp("served"), ACME, NORTHWIND)
    with running_servers(home):
        yield home


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "email.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_graph_prints_text_and_mermaid() -> None:
    text = cli("graph").stdout
    assert text.startswith("workflow support-inbox (version ")
    assert "compliance  --[compliance.verdict == revise (at most 2 times)]-->  drafting" in text
    assert "crm_writer  --[triage.escalate == true]-->  escalated" in text
    mermaid = cli("graph", "--mermaid").stdout
    assert mermaid.startswith("flowchart TD")
    assert 'compliance -->|"compliance.verdict in [pass, needs_approval]"| crm_writer' in mermaid


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"subject": "x", "body": "y"}, "from"),
        ({"from": "not-an-email", "subject": "x", "body": "y"}, "from"),
        ({"from": "a@b.test", "subject": "x" * 400, "body": "y"}, "subject"),
        ({"from": "a@b.test", "subject": "x", "body": "y", "cc": "z"}, "cc"),
    ],
)
def test_submit_refuses_a_malformed_event_naming_the_field(
    home: Home, tmp_path: Path, data: object, field: str
) -> None:
    result = cli("--home", str(home.path), "submit", str(write(tmp_path, data)), "--tenant", "acme")
    assert result.exit_code == 1 and "config_error" in result.stderr
    assert f"{field}:" in result.stderr


def test_submit_to_an_unknown_tenant_is_refused(home: Home, tmp_path: Path) -> None:
    email = write(tmp_path, {"from": "a@b.test", "subject": "x", "body": "y"})
    result = cli("--home", str(home.path), "submit", str(email), "--tenant", "globex")
    assert result.exit_code == 1 and "not_found" in result.stderr and "known: ['acme', 'northwind']" in result.stderr


def test_submit_writes_the_run_to_the_store_with_no_server_running(home: Home, tmp_path: Path) -> None:
    email = write(tmp_path, {"from": "a@b.test", "subject": "Offline intake", "body": "y"})
    result = cli("--home", str(home.path), "-o", "json", "submit", str(email), "--tenant", "northwind")
    assert result.exit_code == 0, result.stderr
    submitted = json.loads(result.stdout)
    assert submitted["new"] is True
    store = Store(home.coordinator_db)
    try:
        run = store.run(submitted["run"])
    finally:
        store.dispose()
    assert run.tenant == "northwind" and run.status == "running" and run.event["subject"] == "Offline intake"
    again = cli("--home", str(home.path), "-o", "json", "submit", str(email), "--tenant", "northwind")
    assert json.loads(again.stdout) == {"run": submitted["run"], "new": False}


def test_submit_an_account_review_starts_a_run_of_the_account_review_workflow(home: Home, tmp_path: Path) -> None:
    review = write(tmp_path, {"account_id": "A-3", "reason": "renewal call", "requested_by": "ops@acme.test"})
    args = ("--home", str(home.path), "-o", "json", "submit", str(review), "--tenant", "acme")
    result = cli(*args, "--event", "account_review")
    assert result.exit_code == 0, result.stderr
    submitted = json.loads(result.stdout)
    store = Store(home.coordinator_db)
    try:
        run, handoffs = store.run(submitted["run"]), store.handoffs(submitted["run"])
    finally:
        store.dispose()
    assert run.event == {"account_id": "A-3", "reason": "renewal call", "requested_by": "ops@acme.test", "contacts": []}
    assert run.result["workflow"]["name"] == "account-review" and [h.recipient for h in handoffs] == ["account_summary"]
    again = cli(*args, "--event", "account_review", "--workflow", "account-review")
    assert json.loads(again.stdout) == {"run": submitted["run"], "new": False}


@pytest.mark.parametrize(
    ("options", "data", "expected"),
    [
        (["--event", "parcel"], {"account_id": "A-3"}, "'parcel' is not one of"),
        (["--event", "account_review", "--workflow", "support-inbox"], {"account_id": "A-3"}, "starts from an email"),
        (["--workflow", "account-review"], {"from": "a@b.test", "subject": "x", "body": "y"}, "an account_review"),
    ],
)
def test_submit_with_an_event_the_workflow_does_not_start_from_is_a_usage_error(
    home: Home, tmp_path: Path, options: list[str], data: object, expected: str
) -> None:
    result = cli("--home", str(home.path), "submit", str(write(tmp_path, data)), "--tenant", "acme", *options)
    assert result.exit_code == 2 and expected in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": "renewal"}, "account_id"),
        ({"account_id": "A 3"}, "account_id"),
        ({"account_id": "A-3", "cc": 1}, "cc"),
    ],
)
def test_submit_refuses_a_malformed_account_review_naming_the_field(
    home: Home, tmp_path: Path, data: object, field: str
) -> None:
    review = write(tmp_path, data)
    result = cli("--home", str(home.path), "submit", str(review), "--tenant", "acme", "--event", "account_review")
    assert result.exit_code == 1 and "config_error" in result.stderr and f"{field}:" in result.stderr, result.stderr


def test_submit_to_an_unknown_workflow_names_the_loaded_ones(home: Home, tmp_path: Path) -> None:
    review = write(tmp_path, {"account_id": "A-3"})
    result = cli("--home", str(home.path), "submit", str(review), "--tenant", "acme", "--workflow", "audit")
    assert result.exit_code == 1 and "not_found" in result.stderr and "account-review" in result.stderr


def test_eval_promote_refuses_a_run_that_did_not_start_from_an_email(home: Home, tmp_path: Path) -> None:
    review = write(tmp_path, {"account_id": "A-5", "reason": "promote me"})
    args = ("--home", str(home.path), "-o", "json")
    run_id = json.loads(cli(*args, "submit", str(review), "--tenant", "acme", "--event", "account_review").stdout)[
        "run"
    ]
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "scenarios.jsonl").write_text("", encoding="utf-8")
    result = cli(*args, "eval", "promote", run_id, "--suite", str(tmp_path / "suite"))
    assert result.exit_code == 1 and "invalid_argument" in result.stderr and "account-review" in result.stderr
    assert (tmp_path / "suite" / "scenarios.jsonl").read_text(encoding="utf-8") == ""


def test_work_with_a_server_down_names_the_server_and_the_url(home: Home) -> None:
    result = cli("--home", str(home.path), "work", "--until-idle")
    assert result.exit_code == 1 and "error (unavailable)" in result.stderr
    failed = [n for n, s in home.servers.items() if f"{n} at {s.url}: connection refused" in result.stderr]
    assert len(failed) == 1 and "TaskGroup" not in result.stderr


def test_work_refuses_a_model_latency_with_a_hosted_model(home: Home) -> None:
    result = cli("--home", str(home.path), "work", "--model", "anthropic", "--model-latency", "1")
    assert result.exit_code == 1 and "--model-latency" in result.stderr and "--model offline" in result.stderr
    unknown = cli("--home", str(home.path), "work", "--model", "gpt")
    assert unknown.exit_code == 2 and "'gpt' is not a model backend" in unknown.stderr and "offline" in unknown.stderr


@pytest.mark.slow  # four servers started as processes
def test_submit_work_and_decide_approvals_with_remote_approver_tokens(served: Home, tmp_path: Path) -> None:
    acme = {
        "from": "priya.raman@brightloop.example.com",
        "subject": "Charged twice, please refund",
        "body": "We were charged twice. Please refund the duplicate $80.00 charge.",
    }
    northwind = {
        "from": "hannah.lindqvist@trailpost.example.org",
        "subject": "Refund the shipping",
        "body": "I returned my order and you kept the shipping. Please refund $9.50.",
    }
    home = str(served.path)
    for tenant, data in (("acme", acme), ("northwind", northwind)):
        (tmp_path / tenant).mkdir()
        result = cli("--home", home, "submit", str(write(tmp_path / tenant, data)), "--tenant", tenant)
        assert result.exit_code == 0 and "submitted: run R-" in result.stdout, result.stderr
    again = cli("--home", home, "submit", str(tmp_path / "acme" / "email.json"), "--tenant", "acme")
    assert "already submitted" in again.stdout
    worked = cli("--home", home, "work", "--until-idle", "--concurrency", "2")
    assert worked.exit_code == 0, worked.stderr[-2000:]
    audience = Home.load(served.path).approvals_audience

    def token(tenant: str, role: str) -> str:
        return cli(
            "--home", home, "token", "mint", "--tenant", tenant, "--role", role, "--audience", audience
        ).stdout.strip()

    listed = cli("--home", home, "approvals", "list", "--token", token("acme", "approver"))
    assert "1 approvals waiting (acme)" in listed.stdout and "crm.issue_credit" in listed.stdout

    store = Store(Home.load(served.path).coordinator_db)
    try:
        by_tenant = {a.tenant: a for a in store.approvals()}
    finally:
        store.dispose()

    acme_id, nw_id = by_tenant["acme"].id, by_tenant["northwind"].id
    acme_hash, nw_hash = by_tenant["acme"].args_hash, by_tenant["northwind"].args_hash
    assert acme_hash in listed.stdout

    def approve(*args: str) -> Result:
        return cli("--home", home, "approvals", "approve", acme_id, "--hash", acme_hash, *args)

    stranger = approve("--token", token("northwind", "approver"))
    assert stranger.exit_code == 1 and "not_found" in stranger.stderr
    agent = approve("--token", token("acme", "agent"))
    assert agent.exit_code == 1 and "insufficient_scope" in agent.stderr

    approved = approve("--token", token("acme", "approver"))
    assert (
        approved.exit_code == 0
        and f"{acme_id}: executed" in approved.stdout
        and '"amount_cents": 8000' in approved.stdout
    )
    twice = approve("--token", token("acme", "approver"))
    assert twice.exit_code == 1 and "conflict" in twice.stderr and "already executed" in twice.stderr
    rejected = cli(
        "--home", home, "approvals", "reject", nw_id, "--hash", nw_hash, "--token", token("northwind", "approver")
    )
    assert rejected.exit_code == 0 and f"{nw_id}: rejected" in rejected.stdout

    store = Store(Home.load(served.path).coordinator_db)
    try:
        statuses = {store.approval(i).run_id: store.run(store.approval(i).run_id).status for i in (acme_id, nw_id)}
    finally:
        store.dispose()
    assert sorted(statuses.values()) == ["completed", "escalated"]


@pytest.mark.slow  # four servers started as processes
def test_eval_promote_turns_a_recorded_run_into_a_suite_line(served: Home, tmp_path: Path) -> None:
    import shutil

    from coordinator.eval import load_suite
    from tests.conftest import EXAMPLE_TENANTS

    home = str(served.path)
    email = write(
        tmp_path,
        {
            "from": "priya.raman@brightloop.example.com",
            "subject": "Invoice copy",
            "body": "Could you send me last month's invoice? I cannot find it.",
        },
    )
    assert cli("--home", home, "submit", str(email), "--tenant", "acme").exit_code == 0
    assert cli("--home", home, "work", "--until-idle").exit_code == 0
    store = Store(Home.load(served.path).coordinator_db)
    try:
        run = next(r for r in store.runs(tenant="acme") if r.event["subject"] == "Invoice copy")
    finally:
        store.dispose()
    suite_dir = tmp_path / "suite"
    (suite_dir / "tenants").mkdir(parents=True)
    for tenant in EXAMPLE_TENANTS.glob("*.yaml"):
        shutil.copy(tenant, suite_dir / "tenants")
    (suite_dir / "scenarios.jsonl").write_text("")
    result = cli("--home", home, "eval", "promote", run.id, "--suite", str(suite_dir))
    assert result.exit_code == 0, result.stderr
    [scenario] = load_suite(suite_dir).scenarios
    assert scenario.id == f"promoted-{run.id}" and scenario.expect.category == "billing"
    assert scenario.promoted_from == run.id  # marked: its expectations are what the run did
    written = (suite_dir / "scenarios.jsonl").read_bytes()
    old_spelling = cli("eval", "promote", run.id, "--suite", str(suite_dir), "--home", home, "--id", "again")
    assert old_spelling.exit_code == 0 and "deprecated:" in old_spelling.stderr  # the previous release's form
    assert f"already in {suite_dir} as promoted-{run.id}" in old_spelling.stdout  # promoted once: nothing changed
    assert (suite_dir / "scenarios.jsonl").read_bytes() == written
    # a line promoted before lines were marked is found by its id
    unmarked = {k: v for k, v in json.loads(written).items() if k != "promoted_from"}
    (suite_dir / "scenarios.jsonl").write_text(json.dumps(unmarked) + "\n")
    again = cli("--home", home, "-o", "json", "eval", "promote", run.id, "--suite", str(suite_dir))
    assert again.exit_code == 0 and json.loads(again.stdout)["added"] is False
    # an id another scenario has is refused, and nothing is written
    (suite_dir / "scenarios.jsonl").write_text(json.dumps(unmarked | {"id": "taken"}) + "\n")
    taken = cli("--home", home, "eval", "promote", run.id, "--suite", str(suite_dir), "--id", "taken")
    assert taken.exit_code == 1 and "taken" in taken.stderr
    assert [s.id for s in load_suite(suite_dir).scenarios] == ["taken"]
    replayed = cli("--home", home, "replay", run.id)
    assert replayed.exit_code == 0 and "identical to the record" in replayed.stdout
    stray = cli("eval", "run", str(suite_dir), "--jsno", "x.json")
    assert stray.exit_code == 2 and "--jsno" in stray.stderr


@pytest.mark.anyio
async def test_deskhand_work_asks_its_workers_to_stop_on_the_first_signal_and_forces_it_on_the_second() -> None:
    """(A worker process told to stop once is tested end to end in test_workers.py.) Two signals sent to a
    process at once may arrive as one, so the second is sent here after the first was taken."""
    stopping = _Stopping()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(stopping.on_signals, tg.cancel_scope)
            os.kill(os.getpid(), signal.SIGTERM)
            await stopping.asked.wait()
            assert not stopping.forced
            os.kill(os.getpid(), signal.SIGTERM)
            await anyio.sleep_forever()  # until the second signal cancels the group
    assert stopping.forced


def test_eval_run_prints_its_report_as_json_for_scripts(tmp_path: Path) -> None:
    from tests.coordinator.test_eval import GOOD, suite

    result = cli("-o", "json", "eval", "run", str(suite(tmp_path / "suite", GOOD)))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)  # the report alone: no progress bar, no table
    assert report["model"] == "offline" and report["scores"]["scenarios"] == 1 and report["failures"] == []


def test_submit_keeps_the_tenants_own_runs_in_flight_limit(tmp_path: Path) -> None:
    """`submit` asks no server, so the limits come from the tenant file as `init` loaded it."""
    import yaml

    data = yaml.safe_load((REPO / "tests" / "data" / "tenants" / "wheelhouse.yaml").read_text(encoding="utf-8"))
    data["policy"]["limits"] = {"runs_in_flight": 1}
    tenant_file = tmp_path / "limited.yaml"
    tenant_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    home = init_on_free_ports(tmp_path / "home", str(tenant_file))
    tenant = data["tenant"]

    def submit(subject: str) -> Any:
        email = write(tmp_path, {"from": "someone@example.org", "subject": subject, "body": "Hello, a question."})
        return cli("--home", str(home.path), "submit", str(email), "--tenant", tenant)

    assert submit("first").exit_code == 0
    refused = submit("second")
    assert refused.exit_code == 1 and "error (budget_exhausted)" in refused.stderr, refused.stderr


@pytest.mark.slow  # four servers started as processes
def test_the_local_operator_approves_without_a_token_and_the_call_names_them(served: Home, tmp_path: Path) -> None:
    import getpass

    from sqlalchemy import text

    from mcp_servers.kit import Database

    email = {
        "from": "priya.raman@brightloop.example.com",
        "subject": "Refund the double charge",
        "body": "We were charged twice in April. Please refund the duplicate $45.00 charge.",
    }
    home = str(served.path)
    submitted = cli("--home", home, "-o", "json", "submit", str(write(tmp_path, email)), "--tenant", "acme")
    run_id = json.loads(submitted.stdout)["run"]
    assert cli("--home", home, "work", "--until-idle").exit_code == 0
    rows = json.loads(cli("--home", home, "-o", "json", "approvals", "list").stdout)
    [waiting] = [r for r in rows if r["run"] == run_id]
    nw_token = cli(
        "--home", home, "token", "mint", "--tenant", "northwind", "--role", "approver",
        "--audience", served.approvals_audience,
    ).stdout.strip()  # fmt: skip
    args = ("--home", home, "approvals", "approve", waiting["id"], "--hash", waiting["args_hash"])
    stranger = cli(*args, "--token", nw_token)
    assert stranger.exit_code == 1 and "not_found" in stranger.stderr
    approved = cli(*args)
    assert approved.exit_code == 0 and f"{waiting['id']}: executed" in approved.stdout, approved.stderr
    operator = f"local:{getpass.getuser()}"
    store = Store(served.coordinator_db)
    try:
        assert store.run(run_id).status == "completed"
        decisions = [(e.actor, e.decision) for e in store.audit_trail(run_id) if e.actor == operator]
    finally:
        store.dispose()
    assert decisions == [(operator, "approval approved"), (operator, "approved call executed")]
    crm = Database(served.servers["crm"].db)
    try:
        with crm.engine.begin() as connection:
            actors = connection.execute(
                text("SELECT actor FROM audit_log WHERE tool = 'issue_credit' AND run_id = :run"), {"run": run_id}
            ).all()
    finally:
        crm.dispose()
    assert [a for (a,) in actors] == [operator]  # the server's own audit names who approved the call
