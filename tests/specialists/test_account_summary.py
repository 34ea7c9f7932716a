"""The account summary, a job that starts from an account review request rather than an email: run by the
coordinator's workers over the real MCP servers, its note written once, other tenants' accounts out of reach."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coordinator._replay import replay
from coordinator._worker import work
from coordinator.models import OfflineModel
from schemas import AccountReviewRequest, InvalidArgument
from specialists.account_summary import specialist as account_summary
from tests.specialists.harness import World

QUILL = AccountReviewRequest(
    account_id="A-3", contacts=["aisha@quillandco.test"], reason="renewal call", requested_by="ops@acme.test"
)


async def notes(world: World, tenant: str, account_id: str) -> list[dict[str, Any]]:
    """The account's interactions of channel `note`, read over a real MCP client."""
    async with world.connect(tenant, "crm", ["crm:read"]) as client:
        listed = await client.call_tool("list_interactions", {"account_id": account_id, "limit": 100})
    items: list[dict[str, Any]] = json.loads(listed.content[0].text)["items"]  # type: ignore[union-attr]
    return [i for i in items if i["channel"] == "note"]


@pytest.mark.anyio
async def test_an_account_review_completes_and_writes_one_note_however_often_it_is_submitted(
    tmp_path: Path, world: World
) -> None:
    async with world.runtime(f"sqlite:///{tmp_path / 'runs.db'}") as runtime:
        run_id, new = runtime.submit_event("acme", "account-review", QUILL, source="review-quill-1")
        await work(runtime, until_idle=True, poll_seconds=0.01)
        again, new_again = runtime.submit_event("acme", "account-review", QUILL, source="review-quill-1")
        await work(runtime, until_idle=True, poll_seconds=0.01)
        run = runtime.store.run(run_id)
        replayed = await replay(runtime.store, dict(runtime.specialists), dict(runtime.policies), run_id)
    assert replayed.identical and [s[1] for s in replayed.steps] == ["account_summary"]
    assert new and not new_again and again == run_id
    assert run.status == "completed", run.reason
    assert run.event == QUILL.model_dump(mode="json")
    summary = run.result["account_summary"]
    assert summary["found"] and summary["name"] == "Quill & Co" and summary["flags"] == []
    assert summary["written"]["tool"] == "crm.log_interaction" and summary["written"]["result_id"]
    written = await notes(world, "acme", "A-3")
    assert [n["id"] for n in written] == [summary["written"]["result_id"]]
    assert "Quill & Co" in written[0]["summary"] and "renewal call" in written[0]["summary"]


@pytest.mark.anyio
async def test_a_retried_hop_repeats_its_idempotency_key_and_writes_nothing_more(world: World) -> None:
    outputs = []
    for _ in range(2):  # the same run and step, as a worker that took the hop over would run it
        async with world.context(account_summary, "acme", OfflineModel(), run_id="R-retried") as ctx:
            outputs.append(await account_summary.run(QUILL, ctx))
    first, second = (o.written for o in outputs)
    assert first is not None and second is not None
    assert first.idempotency_key == second.idempotency_key and first.result_id == second.result_id
    assert len(await notes(world, "acme", "A-3")) == 1


@pytest.mark.anyio
async def test_another_tenants_account_is_not_found_and_the_run_escalates_with_nothing_written(
    tmp_path: Path, world: World
) -> None:
    theirs = AccountReviewRequest(account_id="NW-A-1", requested_by="ops@acme.test")
    before = await notes(world, "northwind", "NW-A-1")
    async with world.runtime(f"sqlite:///{tmp_path / 'runs.db'}") as runtime:
        run_id, _ = runtime.submit_event("acme", "account-review", theirs)
        await work(runtime, until_idle=True, poll_seconds=0.01)
        run = runtime.store.run(run_id)
    assert run.status == "escalated" and "account NW-A-1 not found" in run.reason
    assert run.result["account_summary"]["found"] is False and run.result["account_summary"]["written"] is None
    assert await notes(world, "northwind", "NW-A-1") == before


@pytest.mark.anyio
async def test_an_open_p1_ticket_is_flagged_and_the_run_escalates_after_writing_its_note(
    tmp_path: Path, world: World
) -> None:
    async with world.connect("acme", "helpdesk", ["helpdesk:write"]) as client:
        await client.call_tool(
            "create_ticket",
            {"customer_email": "aisha@quillandco.test", "subject": "Exports fail", "body": "All of them.",
             "priority": "P1"},
        )  # fmt: skip
    async with world.runtime(f"sqlite:///{tmp_path / 'runs.db'}") as runtime:
        run_id, _ = runtime.submit_event("acme", "account-review", QUILL)
        await work(runtime, until_idle=True, poll_seconds=0.01)
        run = runtime.store.run(run_id)
    assert run.status == "escalated" and "open P1 ticket" in run.reason and "Exports fail" in run.reason
    summary = run.result["account_summary"]
    assert summary["open_tickets"] and summary["written"] is not None
    assert len(await notes(world, "acme", "A-3")) == 1


@pytest.mark.anyio
async def test_a_contact_of_another_account_is_left_out(world: World) -> None:
    request = QUILL.model_copy(update={"contacts": ["aisha@quillandco.test", "d.fischer@fenwick-health.example.org"]})
    async with world.context(account_summary, "acme", OfflineModel()) as ctx:
        summary = await account_summary.run(request, ctx)
    assert summary.left_out == ["d.fischer@fenwick-health.example.org"]
    assert all("subprocessor" not in t for t in summary.open_tickets)  # Fenwick's open ticket is not Quill's


@pytest.mark.anyio
async def test_submitting_an_event_to_a_workflow_that_starts_from_another_is_refused(
    tmp_path: Path, world: World
) -> None:
    async with world.runtime(f"sqlite:///{tmp_path / 'runs.db'}") as runtime:
        with pytest.raises(InvalidArgument) as caught:
            runtime.submit_event("acme", "support-inbox", QUILL)
        assert caught.value.field == "workflow" and "starts from an email" in caught.value.message
        assert runtime.store.runs() == []


@pytest.mark.anyio
async def test_an_open_ticket_in_a_category_the_policy_escalates_is_flagged(world: World) -> None:
    fenwick = AccountReviewRequest(account_id="A-4", contacts=["d.fischer@fenwick-health.example.org"])
    async with world.context(account_summary, "acme", OfflineModel()) as ctx:
        summary = await account_summary.run(fenwick, ctx)
    assert summary.flagged and summary.flags == ["open ticket T-1004 is legal, a category that goes to a person"]
    assert summary.open_tickets == ["T-1004: Need updated subprocessor list for our audit (P2, open)"]
