"""The metrics after a small real run (the runtime over the four servers over HTTP), scraped over HTTP from the
worker's `/metrics`, the API's and a server's, and checked against the store; and prometheus-client's
multiprocess mode: worker processes sharing a directory, one scrape summing them."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from coordinator import Home, open_runtime
from coordinator._submission import daily_limits
from coordinator._tokens import DevKeys, TokenIssuer
from coordinator._worker import work
from coordinator.api import API_ROLES, create_app
from coordinator.store import Store
from coordinator.telemetry import CoordinatorMetrics, metrics_route, serving_metrics
from mcp_servers.kit import MULTIPROCESS_ENV, JwtVerifier, KeySet
from schemas import InboundEmail, TenantFile
from tests.conftest import ON_POSTGRES, postgres_schema
from tests.coordinator.api.conftest import refund, serving_app
from tests.coordinator.cli_helpers import ACME, DESKHAND, NORTHWIND, cli, init_on_free_ports
from tests.coordinator.http_servers import serving

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parsed(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def mint(
    home: Home,
    audience: str | list[str],
    *,
    tenant: str | None = None,
    roles: tuple[str, ...] = ("viewer",),
) -> str:
    issuer = TokenIssuer(DevKeys.load(home.keys_dir), issuer=home.issuer)
    return issuer.mint(tenant=tenant, scopes=[], audience=audience, roles=roles, subject="prometheus")


def scrape(url: str, token: str | None) -> httpx2.Response:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    return httpx2.get(url, headers=headers, timeout=30)


def emails(tenants: list[TenantFile]) -> list[tuple[str, InboundEmail]]:
    acme, northwind = tenants[0].customers[0].email, tenants[1].customers[0].email
    invoice = InboundEmail(
        sender=acme,
        subject="Invoice copy please",
        body="Hi, could you send me a copy of last month's invoice? I cannot find it in billing.",
    )
    urgent = InboundEmail(sender=acme, subject="Lawyer", body="Our lawyer will take legal action over this breach.")
    other = InboundEmail(sender=northwind, subject="Invoice copy", body="Where is my invoice?")
    return [("acme", invoice), ("acme", refund(acme)), ("acme", urgent), ("northwind", other)]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    home = init_on_free_ports(tmp_path_factory.mktemp("home"), ACME, NORTHWIND)
    with serving(home):
        yield home


@pytest.fixture(params=["sqlite", ON_POSTGRES])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'coordinator.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_available")) as url:
        yield url


@pytest.mark.slow
def test_each_scrape_after_a_small_run_matches_the_store(home: Home, db: str, tenants: list[TenantFile]) -> None:
    metrics = CoordinatorMetrics()

    async def run() -> None:
        async with open_runtime(home, list(home.tenants), db=db) as runtime:
            runtime.metrics = metrics
            for tenant, email in emails(tenants):
                runtime.submit(tenant, email)
            await work(runtime, until_idle=True, poll_seconds=0.01)

    anyio.run(run)
    store = Store(db)
    api_verifier = JwtVerifier(KeySet.from_file(home.jwks_path), issuer=home.issuer, audience=home.api_audience)
    route = metrics_route(metrics, store, lambda: daily_limits(home), api_verifier, API_ROLES)
    try:
        with serving_metrics(route, "127.0.0.1:0") as worker_url, serving_app(create_app(home, store)) as api:
            assert scrape(worker_url, None).status_code == 401
            assert scrape(worker_url, mint(home, home.api_audience, tenant="acme")).status_code == 403
            assert scrape(worker_url, mint(home, home.servers["crm"].url)).status_code == 401  # another audience
            token = mint(home, home.api_audience)
            worker = parsed(scrape(worker_url, token).text)
            assert scrape(f"{api}/metrics", None).status_code == 401
            from_api = parsed(scrape(f"{api}/metrics", token).text)

        runs = store.runs()
        assert {r.status for r in runs} >= {"completed", "escalated", "awaiting_approval"}
        for tenant in home.tenants:
            counted = {o: total(worker, "deskhand_runs_total", tenant=tenant, outcome=o) for o in ("completed",
                       "escalated", "awaiting_approval", "failed")}  # fmt: skip
            assert {o: n for o, n in counted.items() if n} == store.run_status_counts(tenant)
            pending = len(store.approvals(tenant=tenant))
            for scraped in (worker, from_api):
                assert total(scraped, "deskhand_pending_approvals", tenant=tenant) == pending
                limit = daily_limits(home)[tenant]
                assert total(scraped, "deskhand_budget_left_usd", tenant=tenant) == pytest.approx(
                    limit - store.usage_today(tenant)[1]
                )
        assert total(worker, "deskhand_tokens_total") == sum(r.tokens for r in runs) > 0
        assert total(worker, "deskhand_cost_usd_total") == pytest.approx(sum(r.cost_usd for r in runs))
        assert total(worker, "deskhand_run_cost_usd_count") == len(runs)
        assert total(worker, "deskhand_run_cost_usd_sum") == pytest.approx(sum(r.cost_usd for r in runs))
        assert total(worker, "deskhand_escalations_total") == sum(r.status == "escalated" for r in runs)
        handoffs = [h for r in runs for h in store.handoffs(r.id)]
        assert total(worker, "deskhand_handoff_seconds_count") == len(handoffs)
        assert total(worker, "deskhand_tool_seconds_count") == sum(r.tool_calls for r in runs)
        assert total(worker, "deskhand_queue_depth") == 0 and total(worker, "deskhand_leases") == 0
        assert total(from_api, "deskhand_runs_total") == 0  # the API ran no handoff: its counters are its own

        (parked,) = store.approvals(tenant="acme")  # a person approves the credit: the API settles its run
        approver = {"authorization": f"Bearer {mint(home, home.api_audience, tenant='acme', roles=('approver',))}"}
        with serving_app(create_app(home, store)) as api:
            url = f"{api}/v1/approvals/{parked.id}/approve"
            decided = httpx2.post(url, json={"hash": parked.args_hash}, headers=approver, timeout=60)
            assert decided.status_code == 200, decided.text
            settled = parsed(scrape(f"{api}/metrics", token).text)
        assert total(settled, "deskhand_runs_total", tenant="acme", outcome="completed") == 1
        completed = total(worker, "deskhand_runs_total", tenant="acme", outcome="completed")
        assert completed + 1 == store.run_status_counts("acme")["completed"]
        assert total(settled, "deskhand_pending_approvals", tenant="acme") == 0

        crm = home.servers["crm"].url
        scrape_crm = crm.removesuffix("/mcp") + "/metrics"
        minted = cli("--home", str(home.path), "token", "metrics")  # what an operator gives Prometheus
        assert minted.exit_code == 0, minted.stderr
        servers_token = minted.stdout.strip()
        assert scrape(scrape_crm, None).status_code == 401
        assert scrape(scrape_crm, mint(home, crm, tenant="acme", roles=("metrics",))).status_code == 403
        before = parsed(scrape(scrape_crm, servers_token).text)
        denied = {"tenant": "acme", "tool": "issue_credit", "code": "insufficient_scope"}
        reader = TokenIssuer(DevKeys.load(home.keys_dir), issuer=home.issuer).mint(
            tenant="acme", scopes=["crm:read"], audience=crm
        )
        credit = {"name": "issue_credit", "arguments": {"account_id": "A-1", "amount_cents": 100, "reason": "x"}}
        refused = httpx2.post(
            crm,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": credit},
            headers={
                "authorization": f"Bearer {reader}",
                "accept": "application/json, text/event-stream",
                "mcp-protocol-version": "2025-11-25",
            },
        )
        assert refused.status_code == 403
        after = parsed(scrape(scrape_crm, servers_token).text)
        assert (
            total(after, "deskhand_denied_calls_total", tenant="acme")
            == total(before, "deskhand_denied_calls_total", tenant="acme") + 1
        )
        assert (
            total(after, "deskhand_denied_calls_total", **denied)
            == total(before, "deskhand_denied_calls_total", **denied) + 1
        )
        assert total(after, "deskhand_server_tool_seconds_count", outcome="allowed") > 0  # the run's calls, counted
        for server in home.servers.values():  # one token for every server's /metrics, and the coordinator's
            assert scrape(server.url.removesuffix("/mcp") + "/metrics", servers_token).status_code == 200
        with serving_metrics(route, "127.0.0.1:0") as worker_url:
            assert scrape(worker_url, servers_token).status_code == 200
    finally:
        store.dispose()


@pytest.mark.slow
def test_worker_processes_sharing_a_multiprocess_directory_are_summed_by_one_scrape(
    home: Home, tmp_path: Path, tenants: list[TenantFile]
) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {**os.environ, MULTIPROCESS_ENV: str(directory), "COLUMNS": "200"}
    env.pop("DESKHAND_HOME", None)
    stores = [f"sqlite:///{tmp_path / f'coordinator-{i}.db'}" for i in range(2)]
    for index, db in enumerate(stores):  # each worker its own SQLite store: two processes, two emails each
        for number, (tenant, email) in enumerate(emails(tenants)[:2]):
            event = tmp_path / f"email-{index}-{number}.json"
            event.write_text(email.model_dump_json())
            result = cli("--home", str(home.path), "submit", str(event), "--tenant", tenant, "--db", db)
            assert result.exit_code == 0, result.stderr
    workers = [
        subprocess.Popen(
            [DESKHAND, "--home", str(home.path), "work", "--db", db, "--until-idle"], env=env, stderr=subprocess.PIPE
        )
        for db in stores
    ]
    for process in workers:
        _, err = process.communicate(timeout=240)
        assert process.returncode == 0, err.decode()[-3000:]
    assert len(list(directory.glob("*.db"))) >= 2  # each worker process wrote its own files

    serving_worker = subprocess.Popen(
        [DESKHAND, "--home", str(home.path), "work", "--db", stores[0], "--metrics", "127.0.0.1:0"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serving_worker.stderr is not None
        url = ""
        for line in serving_worker.stderr:  # until it says where (or exits: the loop ends)
            if "metrics at " in line:
                url = line.rsplit("metrics at ", 1)[1].strip()
                break
        assert url, "the worker did not serve its metrics"
        scraped = parsed(scrape(url, mint(home, home.api_audience, roles=("metrics",))).text)
    finally:
        serving_worker.send_signal(signal.SIGINT)
        serving_worker.communicate(timeout=60)
    ended = {}
    for db in stores:
        store = Store(db)
        try:
            for tenant in home.tenants:
                for status, count in store.run_status_counts(tenant).items():
                    ended[status] = ended.get(status, 0) + count
        finally:
            store.dispose()
    assert sum(ended.values()) == 4
    assert {o: total(scraped, "deskhand_runs_total", outcome=o) for o in ended} == ended
