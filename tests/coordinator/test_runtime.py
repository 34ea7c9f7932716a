"""The coordinator end to end: intake, workers, the routing graph, approvals, budgets, on the real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import event
from sqlmodel import select

from coordinator._worker import work
from coordinator.models import OfflineModel
from coordinator.runtime import Abandoned, HandoffChain, Runtime, RuntimeSettings, check_approver
from mcp_servers.crm import CreditRow
from mcp_servers.helpdesk import NoteRow, TicketRow
from mcp_servers.kit import AuditRecord, IdempotencyRecord
from mcp_servers.mailbox import MessageRow
from schemas import Conflict, InboundEmail, InsufficientScope, NotFound, Principal, RunBudget, args_hash
from schemas.tools import crm
from tests.specialists.harness import World

pytestmark = pytest.mark.anyio


@pytest.fixture
async def runtime(world: World, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with world.runtime(f"sqlite:///{tmp_path / 'coordinator.db'}") as built:
        yield built


def customer_email(world: World, tenant: str, index: int = 0) -> str:
    return world.tenants[tenant].customers[index].email


async def run_email(world: World, runtime: Runtime, subject: str, body: str) -> str:
    """Submit an email from acme's first customer and work until idle; returns the run's id."""
    run_id, _ = runtime.submit("acme", InboundEmail(sender=customer_email(world, "acme"), subject=subject, body=body))
    await work(runtime, until_idle=True, poll_seconds=0.01)
    return run_id


async def test_a_clear_email_completes_with_every_write_made_once(world: World, runtime: Runtime) -> None:
    email = InboundEmail(
        message_id="M-1",
        sender=customer_email(world, "acme"),
        subject="Invoice copy please",
        body="Hi, could you send me a copy of last month's invoice? I cannot find it in billing.",
    )
    run_id, new = runtime.submit("acme", email)
    again, new_again = runtime.submit("acme", email)
    assert new and not new_again and again == run_id
    await work(runtime, concurrency=2, until_idle=True, poll_seconds=0.01)
    run = runtime.store.run(run_id)
    assert run.status == "completed", run.reason
    assert set(run.result) >= {"triage", "drafting", "compliance", "crm_writer"}
    assert run.tool_calls > 0 and run.iterations == 3
    assert [h.recipient for h in runtime.store.handoffs(run_id)] == ["triage", "drafting", "compliance", "crm_writer"]
    with world.servers["helpdesk"].db.admin_session() as session:
        [ticket] = session.exec(select(TicketRow).where(TicketRow.source_message_id == "M-1")).all()
        assert ticket.tenant_id == "acme" and ticket.category == "billing" and ticket.queue == "billing"
    with world.servers["mailbox"].db.admin_session() as session:
        message = session.exec(select(MessageRow).where(MessageRow.id == "M-1", MessageRow.tenant_id == "acme")).one()
        assert message.status == "processed"
    trail = runtime.store.audit_trail(run_id)
    assert trail[0].decision == "run started" and trail[-1].decision == "routed to completed"


async def test_a_security_email_escalates_with_a_ticket_for_a_person(world: World, runtime: Runtime) -> None:
    email = InboundEmail(
        sender=customer_email(world, "acme", 2),
        subject="Suspicious login from abroad",
        body="We saw a suspicious sign-in to an admin account from another country. Possible breach.",
    )
    run_id, _ = runtime.submit("acme", email)
    await work(runtime, until_idle=True, poll_seconds=0.01)
    run = runtime.store.run(run_id)
    assert run.status == "escalated" and "always goes to a person" in run.reason
    assert "drafting" not in run.result
    ticket_id = run.result["crm_writer"]["ticket_id"]
    with world.servers["helpdesk"].db.admin_session() as session:
        notes = session.exec(select(NoteRow).where(NoteRow.ticket_id == ticket_id)).all()
    assert any("Escalation" in n.body for n in notes)


async def test_budget_exhaustion_escalates_with_the_partial_result(world: World, runtime: Runtime) -> None:
    runtime.settings = RuntimeSettings(run_budget=RunBudget(tool_calls=6))
    email = InboundEmail(sender=customer_email(world, "acme"), subject="Invoice copy", body="Where is my invoice?")
    run_id, _ = runtime.submit("acme", email)
    await work(runtime, until_idle=True, poll_seconds=0.01)
    run = runtime.store.run(run_id)
    assert run.status == "escalated" and "tool call budget" in run.reason
    assert "triage" in run.result and "crm_writer" not in run.result  # what was done is kept; nothing overran


async def test_a_credit_request_waits_for_approval_and_runs_exactly_once(world: World, runtime: Runtime) -> None:
    customer = world.tenants["acme"].customers[0]
    email = InboundEmail(
        sender=customer.email,
        subject="Charged twice - please refund",
        body="We were charged twice for March. Please refund the duplicate $120.00 charge.",
    )
    run_id, _ = runtime.submit("acme", email)
    await work(runtime, until_idle=True, poll_seconds=0.01)
    assert runtime.store.run(run_id).status == "awaiting_approval"
    [approval] = runtime.store.approvals(tenant="acme")
    assert approval.tool == "crm.issue_credit" and approval.arguments["amount_cents"] == 12000

    with pytest.raises(NotFound):  # an approver of another tenant cannot even see it
        check_approver(
            Principal(tenant="northwind", subject="nw-boss", client_id="x", roles=frozenset({"approver"})),
            approval.tenant,
        )
    with pytest.raises(InsufficientScope):
        check_approver(Principal(tenant="acme", subject="agent", client_id="x", roles=frozenset({"agent"})), "acme")

    decided = await runtime.decide(
        approval.id,
        tenant="acme",
        actor="boss@acme",
        approve=True,
        seen_hash=approval.args_hash,
        connect_tool=world.connect,
    )
    assert decided.status == "executed" and decided.result["amount_cents"] == 12000
    with pytest.raises(Conflict):
        await runtime.decide(
            approval.id,
            tenant="acme",
            actor="boss@acme",
            approve=True,
            seen_hash=approval.args_hash,
            connect_tool=world.connect,
        )
    assert runtime.store.run(run_id).status == "completed"
    with world.servers["crm"].db.admin_session() as session:
        credits = session.exec(select(CreditRow).where(CreditRow.tenant_id == "acme")).all()
    assert [c.amount_cents for c in credits] == [12000]


async def test_the_offline_model_can_wait_as_a_hosted_one_does(world: World, runtime: Runtime) -> None:
    """`deskhand work --model-latency`: each judgment takes the latency, so load tests wait on the model
    as production does (a run's judgments come one after another)."""
    with pytest.raises(ValueError, match="expected 0 to 600 seconds"):
        OfflineModel(latency=-1)
    runtime.model = OfflineModel(latency=0.05)
    started = anyio.current_time()
    run_id = await run_email(world, runtime, "Invoice copy please", "Where is my invoice? I cannot find it.")
    run = runtime.store.run(run_id)
    assert run.status == "completed" and run.iterations == 3
    assert anyio.current_time() - started >= 3 * 0.05


async def test_an_approved_call_carries_one_args_hash_from_the_proposal_to_the_servers_records(
    world: World, runtime: Runtime
) -> None:
    """The approval holds the arguments as the tool receives them, and its hash is the one the server's audit
    row and idempotency record carry (non-ASCII text included), so an auditor can follow the call across."""
    run_id = await run_email(
        world,
        runtime,
        "Doppelt belastet – Rückerstattung bitte",
        "We were charged twice for März. Please refund the duplicate $120.00 charge.",
    )
    [approval] = runtime.store.approvals(tenant="acme")
    assert "– Rückerstattung" in approval.arguments["reason"]
    assert approval.args_hash == args_hash(approval.arguments)
    decided = await runtime.decide(
        approval.id,
        tenant="acme",
        actor="boss@acme",
        approve=True,
        seen_hash=approval.args_hash,
        connect_tool=world.connect,
    )
    assert decided.status == "executed"
    with world.servers["crm"].db.admin_session() as session:
        [audited] = session.exec(
            select(AuditRecord).where(AuditRecord.tool == crm.ISSUE_CREDIT.name, AuditRecord.outcome == "allowed")
        ).all()
        record = session.exec(select(IdempotencyRecord).where(IdempotencyRecord.id == f"approval-{approval.id}")).one()
    assert audited.args_hash == record.args_hash == approval.args_hash
    trail = [e for e in runtime.store.audit_trail(run_id) if e.tool == approval.tool]
    assert [e.decision for e in trail] == ["parked for approval", "approval approved", "approved call executed"]
    assert {e.args_hash for e in trail} == {approval.args_hash}


async def test_a_rejected_approval_escalates_and_writes_nothing(world: World, runtime: Runtime) -> None:
    customer = world.tenants["northwind"].customers[0]
    email = InboundEmail(
        sender=customer.email,
        subject="Refund the promo difference",
        body="The promo code was not applied. Please refund $24.00 to my card.",
    )
    run_id, _ = runtime.submit("northwind", email)
    await work(runtime, until_idle=True, poll_seconds=0.01)
    [approval] = runtime.store.approvals(tenant="northwind")
    decided = await runtime.decide(
        approval.id,
        tenant="northwind",
        actor="lead",
        approve=False,
        seen_hash=approval.args_hash,
        connect_tool=world.connect,
    )
    assert decided.status == "rejected"
    assert runtime.store.run(run_id).status == "escalated"
    with world.servers["crm"].db.admin_session() as session:
        assert session.exec(select(CreditRow)).all() == []


async def test_an_unknown_tenant_is_refused_at_intake(runtime: Runtime) -> None:
    with pytest.raises(NotFound):
        runtime.submit("nobody", InboundEmail(sender="a@b.test", subject="x", body="y"))


async def test_an_approval_that_times_out_escalates_the_run(world: World, runtime: Runtime) -> None:
    from datetime import timedelta

    runtime.settings = RuntimeSettings(approval_ttl=timedelta(seconds=-1))  # already past its deadline
    customer = world.tenants["acme"].customers[0]
    email = InboundEmail(sender=customer.email, subject="Refund please", body="Charged twice: refund $15.00 please.")
    run_id, _ = runtime.submit("acme", email)
    await work(runtime, until_idle=True, poll_seconds=0.01)
    assert runtime.store.run(run_id).status == "awaiting_approval"
    assert runtime.expire_approvals() == 1
    run = runtime.store.run(run_id)
    assert run.status == "escalated" and "timed out" in run.reason
    [approval] = runtime.store.approvals(tenant="acme", status=None)
    assert approval.status == "expired"


async def test_tenant_budgets_limit_runs_in_flight_and_daily_spend(world: World, runtime: Runtime) -> None:
    from schemas import BudgetExhausted

    runtime.settings = RuntimeSettings(tenant_max_running=1, tenant_daily_spend_usd=0.0)
    first = InboundEmail(sender=customer_email(world, "acme"), subject="One", body="Where is my invoice?")
    run_id, _ = runtime.submit("acme", first)
    with pytest.raises(BudgetExhausted) as info:
        runtime.submit("acme", InboundEmail(sender=customer_email(world, "acme"), subject="Two", body="And another."))
    assert info.value.code == "budget_exhausted"
    assert "1 runs in flight" in info.value.message  # which of the tenant's budgets (the spend is below)
    runtime.submit("northwind", InboundEmail(sender=customer_email(world, "northwind"), subject="x", body="y"))
    await work(runtime, until_idle=True, poll_seconds=0.01)
    run = runtime.store.run(run_id)
    assert run.status == "escalated" and "daily limit" in run.reason


def test_the_handoff_state_machine_refuses_illegal_moves() -> None:
    from schemas import Handoff

    handoff = Handoff(run_id="R-1", tenant="acme", sender="intake", recipient="triage", payload={})
    claimed = handoff.moved_to("claimed")
    assert claimed.moved_to("done").state == "done" and claimed.moved_to("pending").state == "pending"
    for state in ("done", "escalated", "awaiting_approval"):
        with pytest.raises(Conflict):
            handoff.moved_to(state)  # type: ignore[arg-type]
    with pytest.raises(Conflict):
        claimed.moved_to("done").moved_to("claimed")
    with pytest.raises(Exception, match="frozen"):
        handoff.state = "done"  # type: ignore[misc]


def clear_email(world: World) -> InboundEmail:
    return InboundEmail(
        message_id="M-behind",
        sender=customer_email(world, "acme"),
        subject="Invoice copy please",
        body="Hi, could you send me a copy of last month's invoice? I cannot find it in billing.",
    )


async def test_an_idle_worker_asks_the_store_from_one_loop_and_wakes_every_loop_when_work_comes(
    world: World, runtime: Runtime
) -> None:
    claims: list[float] = []
    idle_long_enough, all_done = anyio.Event(), anyio.Event()

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE coord_handoff") and "coalesce" in statement.lower():  # a claim
            claims.append(anyio.current_time())
            if len(claims) == 8 + 6:
                idle_long_enough.set()

    event.listen(runtime.store.engine, "before_cursor_execute", on_statement)
    done: list[str] = []

    def on_done(run_id: str) -> None:
        done.append(run_id)
        if len({r for r in done if runtime.store.run(r).status != "running"}) == 8:
            all_done.set()

    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(partial(work, runtime, concurrency=8, poll_seconds=0.01, stop=stop, on_done=on_done))
        with anyio.fail_after(60):  # a regression fails here rather than hanging
            await idle_long_enough.wait()
            # Each of the 8 loops asked once; since then only the watch, its waits doubling from 0.01 s to 0.05 s.
            # (Every loop asking every 0.01 s made these 14 claims in about 0.02 s.)
            assert claims[-1] - claims[0] >= 0.01 + 0.02 + 0.04 + 0.05
            runs = {runtime.submit("acme", email)[0] for email in invoice_emails(world, 8)}
            await all_done.wait()  # the watch found work and woke the other loops
        stop.set()
    owners = {h.lease_owner for run in runs for h in runtime.store.handoffs(run)}
    assert len(owners) > 1 and all(runtime.store.run(run).status != "running" for run in runs)


def invoice_emails(world: World, count: int) -> list[InboundEmail]:
    return [
        InboundEmail(
            message_id=f"INV-{i}", sender=customer_email(world, "acme"), subject="Invoice copy", body="Where is it?"
        )
        for i in range(count)
    ]


async def test_a_handoff_is_committed_behind_the_next_which_the_same_worker_holds(
    world: World, runtime: Runtime
) -> None:
    run_id, _ = runtime.submit("acme", clear_email(world))
    async with anyio.create_task_group() as commits:
        chain = HandoffChain(runtime.store, "A", 60, commits)
        claim = await chain.claim_from_queue()
        assert claim is not None and claim.handoff.recipient == "triage"
        await runtime.process(chain)
        drafting = chain.claim  # back before its commit is made
        assert drafting is not None and drafting.handoff.recipient == "drafting" and drafting.handoff.state == "claimed"
        assert runtime.store.handoffs(run_id)[0].state == "claimed"
        await chain.committed()
    stored = {h.recipient: h for h in runtime.store.handoffs(run_id)}
    assert stored["triage"].state == "done"
    assert (stored["drafting"].id, stored["drafting"].state, stored["drafting"].lease_owner) == (
        drafting.handoff.id,
        "claimed",
        "A",
    )
    assert drafting.run_result == runtime.store.run(run_id).result and "triage" in drafting.run_result


async def test_a_handoff_begun_behind_a_commit_that_failed_is_dropped_before_it_writes(
    world: World, runtime: Runtime
) -> None:
    run_id, _ = runtime.submit("acme", clear_email(world))
    async with anyio.create_task_group() as commits:
        chain = HandoffChain(runtime.store, "A", 60, commits)
        assert await chain.claim_from_queue() is not None
        await runtime.process(chain)  # triage
        await chain.committed()
        await runtime.process(chain)  # drafting
        compliance = chain.claim
        assert compliance is not None and compliance.handoff.recipient == "compliance"
        await chain.committed()
        # A stalls past its lease; B takes the compliance handoff over
        runtime.store.renew_lease(compliance.handoff.id, "A", -1)
        taken = runtime.store.claim("B", 60)
        assert taken is not None and taken.handoff.id == compliance.handoff.id
        # A, not knowing, finishes compliance: its commit is refused, behind the CRM writer it began
        await runtime.process(chain)
        writer = chain.claim
        assert writer is not None and writer.handoff.recipient == "crm_writer"
        with pytest.raises(Abandoned):
            await chain.committed()
        await runtime.process(chain)
        assert chain.claim is None
        await chain.committed()  # the refused commit is forgotten with the handoff begun behind it
    stored = runtime.store.handoffs(run_id)
    assert [h.recipient for h in stored] == ["triage", "drafting", "compliance"]
    assert (stored[-1].state, stored[-1].lease_owner) == ("claimed", "B")
    with world.servers["helpdesk"].db.admin_session() as session:  # the writer wrote nothing
        assert session.exec(select(TicketRow).where(TicketRow.source_message_id == "M-behind")).all() == []
    assert "compliance" not in runtime.store.run(run_id).result


async def test_a_recorded_run_replays_identically_and_diverges_when_the_policy_changes(
    world: World, runtime: Runtime
) -> None:
    from coordinator._replay import replay

    run_id = await run_email(
        world,
        runtime,
        "Invoice copy please",
        "Could you send me a copy of last month's invoice? I cannot find it in billing.",
    )
    exchanges = runtime.store.exchanges(run_id)
    assert {e.kind for e in exchanges} == {"model", "tool", "output"}
    # lookups and writes made at once are recorded in the order they were made, whatever order they ended in
    calls = {s: [e.name for e in exchanges if e.specialist == s and e.kind == "tool"] for s in ("triage", "crm_writer")}
    assert calls["triage"] == [
        "crm.find_customer",
        "crm.get_account",
        "crm.list_interactions",
        "helpdesk.search_tickets",
    ]
    assert calls["crm_writer"] == [
        "helpdesk.create_ticket",
        "helpdesk.route_ticket",
        "helpdesk.add_internal_note",
        "helpdesk.attach_draft",
        "crm.log_interaction",
    ]
    assert all(e.response for e in exchanges if e.kind == "tool")
    writes = runtime.store.run(run_id).result["crm_writer"]["writes"]
    assert [w["tool"] for w in writes] == calls["crm_writer"] and all(w["result_id"] for w in writes)
    same = await replay(runtime.store, dict(runtime.specialists), dict(runtime.policies), run_id)
    assert same.identical and [s for _, s, _ in same.steps] == ["triage", "drafting", "compliance", "crm_writer"]
    policy = runtime.policies["acme"]
    changed = policy.model_copy(update={"priorities": [policy.priorities[-1]]})  # every email now gets the default
    other = await replay(runtime.store, dict(runtime.specialists), {"acme": changed}, run_id)
    assert not other.identical


async def test_a_run_promoted_to_a_scenario_loads_as_a_suite_line(
    world: World, runtime: Runtime, tmp_path: Path
) -> None:
    import json
    import shutil

    from coordinator._replay import promote, scenario_line
    from coordinator.eval import load_suite
    from tests.conftest import EXAMPLE_TENANTS

    email = InboundEmail(
        sender=customer_email(world, "northwind"),
        subject="Where is my order?",
        body="My order has not arrived and tracking has not moved for a week.",
    )
    run_id, _ = runtime.submit("northwind", email)
    await work(runtime, until_idle=True, poll_seconds=0.01)
    scenario = promote(runtime.store, run_id)
    assert scenario["expect"]["outcome"] == runtime.store.run(run_id).status
    assert "crm.find_customer" in scenario["expect"]["tools_called"]
    (tmp_path / "tenants").mkdir()
    for tenant in EXAMPLE_TENANTS.glob("*.yaml"):
        shutil.copy(tenant, tmp_path / "tenants")
    (tmp_path / "scenarios.jsonl").write_text(scenario_line(scenario) + "\n")
    [loaded] = load_suite(tmp_path).scenarios
    assert loaded.id == f"promoted-{run_id}" and json.loads(scenario_line(scenario))["tenant"] == "northwind"


def test_each_part_of_the_runtime_is_a_module_under_400_lines() -> None:
    """One concern per module: executing a handoff, recording it, approvals and the pipelined commit do not grow
    back into one."""
    package = Path(__file__).resolve().parents[2] / "coordinator" / "runtime"
    sizes = {path.name: len(path.read_text().splitlines()) for path in package.glob("*.py")}
    assert {"_runtime.py", "_recording.py", "_approvals.py", "_commit.py", "_context.py"} <= sizes.keys()
    assert {name: lines for name, lines in sizes.items() if lines > 400} == {}
