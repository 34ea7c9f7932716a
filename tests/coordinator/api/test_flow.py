"""The API end to end: an email submitted over HTTP is worked by the real runtime and its run appears with its
story; a credit parked for approval is approved over HTTP, the call is made, and the run completes; usage counts
what happened."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx2
import pytest

from coordinator import open_runtime
from coordinator._worker import work
from schemas import TenantFile
from tests.coordinator.api.conftest import Deployment


async def work_until_idle(d: Deployment) -> None:
    async with open_runtime(d.home, list(d.home.tenants), db=d.db) as runtime:
        await work(runtime, until_idle=True, poll_seconds=0.01)


def submit(d: Deployment, tenant: str, event: dict[str, object]) -> str:
    with d.client(d.token(tenant, "operator")) as client:
        response = client.post(f"/v1/tenants/{tenant}/events", json={"kind": "email", "event": event})
    assert response.status_code == 200, response.text
    assert response.json()["new"] is True
    run_id: str = response.json()["run"]
    return run_id


def test_a_submitted_email_is_worked_and_its_approved_credit_completes_the_run(
    deployment: Deployment, tenants: list[TenantFile]
) -> None:
    customer = tenants[0].customers[0].email
    run_id = submit(
        deployment,
        "acme",
        {
            "from": customer,
            "subject": "Refund the double charge",
            "body": "I was charged twice: please refund the $45.00 duplicate.",
        },
    )
    with deployment.client(deployment.token("acme", "viewer")) as client:
        assert client.get(f"/v1/runs/{run_id}").json()["run"]["status"] == "running"
    anyio.run(work_until_idle, deployment)

    with deployment.client(deployment.token("acme", "approver")) as client:
        detail = client.get(f"/v1/runs/{run_id}").json()
        assert detail["run"]["status"] == "awaiting_approval", detail["run"]
        assert detail["triage"]["category"] == "billing"
        (pending,) = [a for a in client.get("/v1/approvals").json()["approvals"] if a["run"] == run_id]
        assert pending["tool"] == "crm.issue_credit" and pending["arguments"]["amount_cents"] == 4500
        shown = client.get(f"/v1/approvals/{pending['id']}").json()
        assert shown["args_hash"] == pending["args_hash"] and shown["arguments_changed"] is False

        wrong = client.post(f"/v1/approvals/{pending['id']}/approve", json={"hash": "0" * 64})
        assert wrong.status_code == 409 and wrong.json()["code"] == "conflict"
        assert client.get(f"/v1/approvals/{pending['id']}").json()["status"] == "pending"

        approved = client.post(f"/v1/approvals/{pending['id']}/approve", json={"hash": pending["args_hash"]})
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "executed" and approved.json()["result"]
        again = client.post(f"/v1/approvals/{pending['id']}/approve", json={"hash": pending["args_hash"]})
        assert again.status_code == 409

        detail = client.get(f"/v1/runs/{run_id}").json()
        assert detail["run"]["status"] == "completed"
        assert detail["approvals"][0]["status"] == "executed"
        assert any(a["decision"] == "approved call executed" and a["actor"] == "approver@acme" for a in detail["audit"])


def test_a_rejection_escalates_the_run(deployment: Deployment) -> None:
    with deployment.client(deployment.token("acme", "approver")) as client:
        shown = client.get(f"/v1/approvals/{deployment.approval}").json()
        rejected = client.post(f"/v1/approvals/{deployment.approval}/reject", json={"hash": shown["args_hash"]})
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
        run = client.get(f"/v1/runs/{deployment.waiting}").json()["run"]
    assert run["status"] == "escalated" and "rejected" in run["reason"]


def test_usage_counts_runs_by_outcome_and_todays_cost_against_the_limit(deployment: Deployment) -> None:
    with deployment.client(deployment.token("northwind", "viewer")) as client:
        usage = client.get("/v1/tenants/northwind/usage").json()
    assert usage["tenant"] == "northwind" and usage["runs"] == {"completed": 1} and usage["in_flight"] == 0
    assert usage["tokens_today"] > 0 and usage["cost_today_usd"] >= 0
    assert usage["daily_limit_usd"] > 0
    assert usage["remaining_today_usd"] == pytest.approx(usage["daily_limit_usd"] - usage["cost_today_usd"])
    with deployment.client(deployment.token(None, "viewer")) as client:
        acme = client.get("/v1/tenants/acme/usage").json()
    assert sum(acme["runs"].values()) >= 2 and acme["tenant"] == "acme"


def test_resubmitting_the_same_source_returns_the_same_run(deployment: Deployment) -> None:
    body = {"kind": "email", "event": {"from": "a@b.test", "subject": "Again", "body": "y"}, "source": "api-test:1"}
    with deployment.client(deployment.token("northwind", "operator")) as client:
        first = client.post("/v1/tenants/northwind/events", json=body).json()
        second = client.post("/v1/tenants/northwind/events", json=body).json()
    assert second == {"run": first["run"], "new": False}


def test_an_account_review_starts_a_run_of_the_workflow_that_starts_from_it(deployment: Deployment) -> None:
    body = {"kind": "account_review", "event": {"account_id": "A-1", "reason": "renewal"}}
    with deployment.client(deployment.token(None, "operator")) as client:
        submitted = client.post("/v1/tenants/acme/events", json=body)
        assert submitted.status_code == 200, submitted.text
        run = client.get(f"/v1/runs/{submitted.json()['run']}").json()["run"]
    assert run["workflow"]["name"] == "account-review" and run["tenant"] == "acme"


def test_health_and_readiness(deployment: Deployment) -> None:
    with deployment.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["schema_version"] >= 6


def test_readiness_fails_while_the_store_is_behind_or_gone(tmp_path: Path) -> None:
    from sqlalchemy import text

    from coordinator.api import create_app
    from coordinator.store import LATEST, Store
    from tests.coordinator.api.conftest import serving_app
    from tests.coordinator.cli_helpers import ACME, init_on_free_ports

    home = init_on_free_ports(tmp_path / "home", ACME)
    store = Store(f"sqlite:///{tmp_path / 'coordinator.db'}")
    try:
        with serving_app(create_app(home, store)) as url, httpx2.Client(base_url=url) as client:
            assert client.get("/readyz").status_code == 200
            with store.engine.begin() as connection:  # as if another deskhand had not migrated it yet
                connection.execute(text("DELETE FROM coord_schema_version WHERE version = :v"), {"v": LATEST})
            behind = client.get("/readyz")
            assert behind.status_code == 503 and behind.json()["code"] == "unavailable"
            assert "deskhand db upgrade" in behind.json()["message"]
            with store.engine.begin() as connection:
                connection.execute(text("DROP TABLE coord_schema_version"))
            assert client.get("/readyz").status_code == 503
            assert client.get("/healthz").status_code == 200  # the process still answers
    finally:
        store.dispose()
