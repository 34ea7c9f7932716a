"""`deskhand runs list|show` over a store the real runtime wrote: filters, table and JSON, a run's story in order,
and another tenant's run as unknown as one that never was."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from coordinator._worker import work
from coordinator.store import RunRow, Store
from schemas import InboundEmail
from tests.coordinator.cli_helpers import cli
from tests.specialists.harness import World


@dataclass(frozen=True)
class Runs:
    db: str
    completed: str
    waiting: str
    northwind: str


@pytest.fixture
async def runs(world: World, tmp_path: Path) -> Runs:
    """Three real runs: acme's invoice question (completed), acme's refund (awaiting approval), a northwind one."""
    db = f"sqlite:///{tmp_path / 'coordinator.db'}"
    acme = world.tenants["acme"].customers[0].email
    northwind = world.tenants["northwind"].customers[0].email
    async with world.runtime(db) as runtime:
        completed, _ = runtime.submit(
            "acme",
            InboundEmail(
                sender=acme,
                subject="Invoice copy please",
                body="Hi, could you send me a copy of last month's invoice? I cannot find it in billing.",
            ),
        )
        waiting, _ = runtime.submit(
            "acme",
            InboundEmail(
                sender=acme,
                subject="Charged twice - please refund",
                body="We were charged twice for March. Please refund the duplicate $120.00 charge.",
            ),
        )
        other, _ = runtime.submit(
            "northwind", InboundEmail(sender=northwind, subject="Invoice copy", body="Where is my invoice?")
        )
        await work(runtime, until_idle=True, poll_seconds=0.01)
    return Runs(db, completed, waiting, other)


def listed(*args: str) -> list[dict[str, object]]:
    result = cli("--home", "/nonexistent", "-o", "json", "runs", "list", *args)
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


@pytest.mark.anyio
async def test_runs_list_shows_every_run_newest_first_with_its_triage_and_workflow(runs: Runs) -> None:
    rows = listed("--db", runs.db)
    assert [r["id"] for r in rows] == [runs.northwind, runs.waiting, runs.completed]
    completed = rows[2]
    assert completed["tenant"] == "acme" and completed["status"] == "completed"
    assert completed["workflow"] == "support-inbox"
    assert completed["triage"] == {
        "category": "billing",
        "confidence": completed["triage"]["confidence"],  # type: ignore[index]
        "priority": "P2",
        "queue": "billing",
        "escalate": False,
        "escalation_reasons": [],
    }
    assert isinstance(completed["tokens"], int) and completed["tokens"] > 0
    assert isinstance(completed["duration_s"], float) and completed["duration_s"] >= 0
    assert rows[1]["reason"] == "an action needs a person's approval"
    assert [r["id"] for r in listed("--db", runs.db, "--limit", "1")] == [runs.northwind]


@pytest.mark.anyio
async def test_runs_list_filters_by_tenant_status_and_since(runs: Runs) -> None:
    assert {r["id"] for r in listed("--db", runs.db, "--tenant", "acme")} == {runs.completed, runs.waiting}
    assert [r["id"] for r in listed("--db", runs.db, "--tenant", "acme", "--status", "awaiting_approval")] == [
        runs.waiting
    ]
    store = Store(runs.db)
    try:  # the completed run was made two days ago
        with store.engine.begin() as connection:
            connection.execute(
                update(RunRow)
                .where(RunRow.id == runs.completed)  # type: ignore[arg-type]
                .values(created_at=datetime.now(UTC) - timedelta(days=2))
            )
    finally:
        store.dispose()
    assert runs.completed not in {r["id"] for r in listed("--db", runs.db, "--since", "1d")}
    assert runs.completed in {r["id"] for r in listed("--db", runs.db, "--since", "3d")}
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert {r["id"] for r in listed("--db", runs.db, "--since", yesterday)} == {runs.waiting, runs.northwind}


@pytest.mark.anyio
async def test_runs_list_as_a_table_prints_whole_ids(runs: Runs) -> None:
    result = cli("--home", "/nonexistent", "runs", "list", "--db", runs.db, columns=60)
    assert result.exit_code == 0, result.stderr
    for run_id in (runs.completed, runs.waiting, runs.northwind):
        assert run_id in result.stdout
    assert "3 runs" in result.stdout


def test_a_since_that_is_neither_a_duration_nor_a_date_is_a_usage_error(tmp_path: Path) -> None:
    result = cli("--home", "/nonexistent", "runs", "list", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--since", "soon")
    assert result.exit_code == 2 and "--since" in result.stderr


@pytest.mark.anyio
async def test_runs_show_tells_a_completed_run_in_the_order_things_happened(runs: Runs) -> None:
    result = cli("--home", "/nonexistent", "-o", "json", "runs", "show", runs.completed, "--db", runs.db)
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert list(shown) == [
        "run",
        "handoffs",
        "exchanges",
        "usage",
        "triage",
        "draft",
        "ticket",
        "approvals",
        "audit",
        "timeline",
    ]
    assert shown["run"]["tenant"] == "acme" and shown["run"]["status"] == "completed"
    assert shown["run"]["workflow"]["name"] == "support-inbox" and shown["run"]["trace"].startswith("00-")
    trace_id = shown["run"]["trace_id"]  # what a tracing backend searches by: the traceparent's trace id
    assert len(trace_id) == 32 and shown["run"]["trace"].split("-")[1] == trace_id
    assert [h["specialist"] for h in shown["handoffs"]] == ["triage", "drafting", "compliance", "crm_writer"]
    assert all(h["state"] == "done" and h["duration_s"] is not None for h in shown["handoffs"])
    calls = [(e["kind"], e["name"]) for e in shown["exchanges"]]
    assert ("tool", "crm.find_customer") in calls and ("model", "triage.classify") in calls
    assert calls.index(("model", "triage.classify")) < calls.index(("tool", "helpdesk.create_ticket"))
    assert all(len(e["args_hash"]) == 64 for e in shown["exchanges"])
    assert shown["usage"]["tokens"] > 0 and shown["usage"]["tool_calls"] > 0
    assert shown["triage"]["category"] == "billing"
    assert shown["draft"]["subject"] == "Re: Invoice copy please"
    assert shown["ticket"].startswith("T-")
    assert shown["approvals"] == []
    assert shown["audit"][0]["decision"] == "run started" and shown["audit"][-1]["decision"] == "routed to completed"

    table = cli("--home", "/nonexistent", "runs", "show", runs.completed, "--db", runs.db)
    assert table.exit_code == 0, table.stderr
    text = table.stdout
    order = [
        f"run {runs.completed} (completed) tenant acme",
        "workflow: support-inbox",
        f"trace: {trace_id}\n",
        "timeline (from the run's start):",
        "1. triage done, attempt 1, took ",
        "tool crm.find_customer ",
        "4. crm_writer done",
        "usage:",
        "triage: billing",
        "draft: Re: Invoice copy please",
        f"ticket: {shown['ticket']}",
        "audit:",
    ]
    positions = [text.index(line) for line in order]
    assert positions == sorted(positions)


@pytest.mark.anyio
async def test_runs_show_lists_the_approval_a_run_waits_for(runs: Runs) -> None:
    result = cli("--home", "/nonexistent", "-o", "json", "runs", "show", runs.waiting, "--db", runs.db)
    assert result.exit_code == 0, result.stderr
    [approval] = json.loads(result.stdout)["approvals"]
    assert approval["tool"] == "crm.issue_credit" and approval["status"] == "pending"
    table = cli("--home", "/nonexistent", "runs", "show", runs.waiting, "--db", runs.db)
    assert f"{approval['id']} crm.issue_credit pending {approval['args_hash']}" in table.stdout


@pytest.mark.anyio
async def test_an_unknown_run_and_another_tenants_run_are_both_not_found(runs: Runs) -> None:
    unknown = cli("--home", "/nonexistent", "runs", "show", "R-0000000000000000", "--db", runs.db)
    assert unknown.exit_code == 1 and "not_found" in unknown.stderr
    other = cli("--home", "/nonexistent", "runs", "show", runs.northwind, "--tenant", "acme", "--db", runs.db)
    assert other.exit_code == 1 and "not_found" in other.stderr
    assert other.stdout == "" and "northwind" not in other.stderr
    own = cli("--home", "/nonexistent", "runs", "show", runs.northwind, "--tenant", "northwind", "--db", runs.db)
    assert own.exit_code == 0 and runs.northwind in own.stdout


def test_the_store_lists_runs_newest_first_since_a_moment(tmp_path: Path) -> None:
    from schemas import RunBudget

    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        first, _ = store.start_run("acme", "a", {}, "triage", RunBudget())
        second, _ = store.start_run("acme", "b", {}, "triage", RunBudget())
        assert [r.id for r in store.runs()] == [first, second]
        assert [r.id for r in store.runs(newest_first=True)] == [second, first]
        assert store.runs(since=datetime.now(UTC) + timedelta(minutes=1)) == []
        assert len(store.runs(since=datetime.now(UTC) - timedelta(minutes=1))) == 2
    finally:
        store.dispose()


@pytest.mark.anyio
async def test_runs_show_times_each_step_and_each_call_from_the_runs_start_in_order(
    world: World, store_url: str
) -> None:
    acme = world.tenants["acme"].customers[0].email
    async with world.runtime(store_url) as runtime:
        run_id, _ = runtime.submit(
            "acme",
            InboundEmail(sender=acme, subject="Invoice copy", body="Could you send me last month's invoice again?"),
        )
        await work(runtime, until_idle=True, poll_seconds=0.01)
    result = cli("--home", "/nonexistent", "-o", "json", "runs", "show", run_id, "--db", store_url)
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    steps = shown["timeline"]
    assert [s["specialist"] for s in steps] == ["triage", "drafting", "compliance", "crm_writer"]
    assert steps[0]["offset_s"] >= 0 and all(s["duration_s"] > 0 for s in steps)
    # each figure is rounded to the millisecond on its own: a sum of two may pass a third by a few
    slack = 0.005
    for step, following in zip(steps, steps[1:], strict=False):  # one after the other, each timed
        assert step["offset_s"] + step["duration_s"] <= following["offset_s"] + slack
    assert steps[-1]["offset_s"] + steps[-1]["duration_s"] <= shown["run"]["duration_s"] + slack
    kinds = set()
    for step in steps:
        offsets = [c["offset_s"] for c in step["calls"]]
        assert offsets == sorted(offsets)
        for call in step["calls"]:
            kinds.add(call["kind"])
            assert call["step"] == step["step"] and call["duration_s"] is not None and call["duration_s"] >= 0
            assert step["offset_s"] <= call["offset_s"] + slack
            assert call["offset_s"] + call["duration_s"] <= step["offset_s"] + step["duration_s"] + slack
    assert kinds == {"model", "tool"}
    assert [c["name"] for c in steps[0]["calls"]][:1] == ["crm.find_customer"]
    assert all(e["duration_s"] is not None for e in shown["exchanges"])

    text = cli("--home", "/nonexistent", "runs", "show", run_id, "--db", store_url).stdout
    first = steps[0]
    assert f"{'+' + format(first['offset_s'], '.3f')}s  1. triage done, attempt 1, took " in text
    call = first["calls"][0]
    assert f"{'+' + format(call['offset_s'], '.3f')}s      tool crm.find_customer {call['args_hash'][:12]} " in text
