"""Runs over the API: listed newest first a page at a time with filters, one run's whole story, as the real
runtime wrote them."""

from __future__ import annotations

from typing import Any

from tests.coordinator.api.conftest import Deployment


def test_runs_are_listed_newest_first_with_their_triage(deployment: Deployment) -> None:
    with deployment.client(deployment.token(None, "viewer")) as client:
        response = client.get("/v1/runs")
    assert response.status_code == 200, response.text
    page = response.json()
    assert [r["id"] for r in page["runs"]] == [deployment.northwind, deployment.waiting, deployment.completed]
    assert page["next_cursor"] is None
    completed = page["runs"][2]
    assert completed["status"] == "completed" and completed["tenant"] == "acme"
    assert completed["triage"]["category"] == "billing" and completed["workflow"] == "support-inbox"


def test_filters_narrow_the_list(deployment: Deployment) -> None:
    with deployment.client(deployment.token(None, "viewer")) as client:

        def ids(**params: Any) -> list[str]:
            response = client.get("/v1/runs", params=params)
            assert response.status_code == 200, response.text
            return [r["id"] for r in response.json()["runs"]]

        assert ids(tenant="acme") == [deployment.waiting, deployment.completed]
        assert ids(status="awaiting_approval") == [deployment.waiting]
        assert ids(tenant="northwind", status="completed") == [deployment.northwind]
        assert ids(since="1h") == [deployment.northwind, deployment.waiting, deployment.completed]
        assert ids(since="2999-01-01") == [] == ids(since="9999-12-31T23:59:59-14:00")
        assert len(ids(since="0001-01-01T00:00:00+14:00")) == 3


def test_pages_follow_the_cursor_and_do_not_shift_when_runs_start_meanwhile(deployment: Deployment) -> None:
    from coordinator.store import Store
    from schemas import RunBudget

    with deployment.client(deployment.token(None, "viewer")) as client:
        first = client.get("/v1/runs", params={"limit": 1}).json()
        assert [r["id"] for r in first["runs"]] == [deployment.northwind] and first["next_cursor"]
        store = Store(deployment.db)
        try:  # a run started between two pages: it is newer, so it shows on a fresh first page only
            newer, _ = store.start_run("acme", "api-test:between-pages", {}, "triage", RunBudget())
        finally:
            store.dispose()
        second = client.get("/v1/runs", params={"limit": 1, "cursor": first["next_cursor"]}).json()
        third = client.get("/v1/runs", params={"limit": 1, "cursor": second["next_cursor"]}).json()
        assert [r["id"] for r in second["runs"] + third["runs"]] == [deployment.waiting, deployment.completed]
        assert third["next_cursor"] is None
        assert client.get("/v1/runs", params={"limit": 1}).json()["runs"][0]["id"] == newer


def test_a_run_shows_its_whole_story(deployment: Deployment) -> None:
    with deployment.client(deployment.token("acme", "viewer")) as client:
        response = client.get(f"/v1/runs/{deployment.waiting}")
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["run"]["id"] == deployment.waiting and detail["run"]["status"] == "awaiting_approval"
    assert detail["run"]["trace_id"] == detail["run"]["trace"].split("-")[1] and len(detail["run"]["trace_id"]) == 32
    assert [h["specialist"] for h in detail["handoffs"]][:2] == ["triage", "drafting"]
    assert detail["approvals"][0]["id"] == deployment.approval and detail["approvals"][0]["status"] == "pending"
    assert any(e["kind"] == "tool" for e in detail["exchanges"])
    assert detail["audit"][0]["decision"] == "run started"
    assert detail["draft"]["body"] and detail["usage"]["tokens"] > 0
    first = detail["timeline"][0]
    assert first["specialist"] == "triage" and first["calls"] and first["duration_s"] is not None
