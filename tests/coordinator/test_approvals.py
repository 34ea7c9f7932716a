"""Approvals: a proposal is checked when it is made, a decision names what the approver saw and is made once,
and the approved call runs exactly the stored call, attributed to the run and the approver, or fails loudly."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from sqlalchemy import update
from sqlmodel import select

from coordinator._sessions import Routes, Tier, http_connector
from coordinator._tokens import APPROVALS_SUBJECT, Attribution, TokenIssuer
from coordinator._worker import work
from coordinator.cli._processes import free_port
from coordinator.runtime import Runtime
from coordinator.store import ApprovalRow, Outcome, Store
from mcp_servers.crm import CreditRow
from mcp_servers.kit import AuditRecord
from schemas import (
    META_IDEMPOTENCY_KEY,
    META_RUN,
    META_TRACEPARENT,
    SPECIALIST_SUBJECT_PREFIX,
    Conflict,
    DeskhandError,
    InboundEmail,
    NotFound,
    Principal,
    RunBudget,
    ServerName,
    args_hash,
)
from schemas.tools import TOOLS_BY_NAME
from tests.conftest import AUDIENCE, ISSUER
from tests.specialists.harness import World

pytestmark = pytest.mark.anyio

REFUND_120 = ("Charged twice - please refund", "We were charged twice for March. Please refund the duplicate $120.00.")
REFUND_1140 = (  # from the sample inbox: over crm.issue_credit's amount_cents cap of 100,000
    "Duplicate payment for invoice INV-2025-0417",
    "We were charged twice: two payments of $1,140.00. Could you please refund the duplicate $1,140.00?",
)


class Recorder:
    """What the servers saw: the verified principal of each session's token, and each tools/call's `_meta`."""

    def __init__(self) -> None:
        self.principals: list[tuple[ServerName, Principal]] = []
        self.calls: list[tuple[ServerName, str, dict[str, Any]]] = []

    def middleware(self, server: ServerName) -> Callable[[ServerRequestContext[Any, Any], CallNext], Any]:
        async def record(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
            if ctx.method == "tools/call":
                params = ctx.params or {}
                self.calls.append((server, str(params.get("name", "")), dict(params.get("_meta") or {})))
            return await call_next(ctx)

        return record


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def connect(world: World, recorder: Recorder) -> Any:
    """The coordinator's `Connect` over the world's in-memory servers, recording what the servers saw."""

    @asynccontextmanager
    async def opened(tenant: str, server: ServerName, scopes: list[str], caller: Attribution) -> AsyncIterator[Client]:
        token = world.issuer.issuer.mint(
            tenant=tenant,
            scopes=scopes,
            audience=AUDIENCE,
            subject=caller.subject,
            run=caller.run,
            actor=caller.actor,
            ttl_seconds=caller.ttl_seconds or 600,
        )
        verifier = world.issuer.verifier()
        recorder.principals.append((server, await verifier.verify_principal(token)))
        mcp = await world.servers[server].in_memory(verifier, token, middleware=[recorder.middleware(server)])
        async with Client(mcp) as client:
            yield client

    return opened


@pytest.fixture
async def runtime(world: World, connect: Any, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with world.runtime(f"sqlite:///{tmp_path / 'coordinator.db'}", connect) as built:
        yield built


async def run_email(world: World, runtime: Runtime, subject: str, body: str) -> str:
    sender = world.tenants["acme"].customers[0].email
    run_id, _ = runtime.submit("acme", InboundEmail(sender=sender, subject=subject, body=body))
    await work(runtime, until_idle=True, poll_seconds=0.01)
    return run_id


def credits(world: World) -> list[int]:
    with world.servers["crm"].db.admin_session() as session:
        return [c.amount_cents for c in session.exec(select(CreditRow).where(CreditRow.tenant_id == "acme")).all()]


async def test_a_proposal_the_tool_would_refuse_escalates_at_once_naming_the_field(
    world: World, runtime: Runtime
) -> None:
    run_id = await run_email(world, runtime, *REFUND_1140)
    run = runtime.store.run(run_id)
    assert run.status == "escalated" and "amount_cents" in run.reason and "crm.issue_credit" in run.reason
    assert runtime.store.approvals(run_id=run_id, status=None) == []  # no person is asked
    assert "crm_writer" in run.result  # what the run had done is kept
    refused = [e for e in runtime.store.audit_trail(run_id) if e.decision == "proposal refused"]
    assert [(e.tool, "amount_cents" in e.outcome) for e in refused] == [("crm.issue_credit", True)]
    assert credits(world) == []


async def test_arguments_changed_in_the_store_after_the_proposal_are_never_executed(
    world: World, runtime: Runtime, connect: Any
) -> None:
    run_id = await run_email(world, runtime, *REFUND_120)
    [approval] = runtime.store.approvals(run_id=run_id)
    assert approval.arguments["amount_cents"] == 12000
    with runtime.store.engine.begin() as connection:  # an attacker with access to the store's database
        connection.execute(
            update(ApprovalRow)
            .where(ApprovalRow.id == approval.id)  # type: ignore[arg-type]
            .values(arguments={**approval.arguments, "amount_cents": 99999})
        )
    decided = await runtime.decide(
        approval.id, tenant="acme", actor="boss@acme", approve=True, seen_hash=approval.args_hash, connect_tool=connect
    )
    assert decided.status == "failed" and decided.result["code"] == "conflict"
    assert credits(world) == []
    run = runtime.store.run(run_id)
    assert run.status == "escalated" and "hash" in run.reason
    refused = [e for e in runtime.store.audit_trail(run_id) if e.decision == "approved call refused"]
    assert [(e.actor, e.args_hash) for e in refused] == [("boss@acme", approval.args_hash)]


async def test_a_decision_naming_another_hash_is_refused_and_changes_nothing(
    world: World, runtime: Runtime, connect: Any
) -> None:
    run_id = await run_email(world, runtime, *REFUND_120)
    [approval] = runtime.store.approvals(run_id=run_id)
    seen = args_hash({**approval.arguments, "amount_cents": 1})
    for approve in (True, False):
        with pytest.raises(Conflict) as refused:
            await runtime.decide(
                approval.id, tenant="acme", actor="boss@acme", approve=approve, seen_hash=seen, connect_tool=connect
            )
        assert refused.value.field == "args_hash"
    assert runtime.store.approval(approval.id).status == "pending"
    assert runtime.store.run(run_id).status == "awaiting_approval"
    assert credits(world) == []


async def test_the_approved_call_names_the_run_and_the_approver_and_specialists_call_under_their_own_names(
    world: World, runtime: Runtime, connect: Any, recorder: Recorder
) -> None:
    run_id = await run_email(world, runtime, *REFUND_120)
    trace = runtime.store.run(run_id).trace
    pooled = {p.subject for _, p in recorder.principals}
    assert pooled and all(s.startswith(SPECIALIST_SUBJECT_PREFIX) for s in pooled)
    assert f"{SPECIALIST_SUBJECT_PREFIX}crm_writer" in pooled
    assert recorder.calls and all(m[META_RUN] == run_id and m[META_TRACEPARENT] == trace for *_, m in recorder.calls)

    [approval] = runtime.store.approvals(run_id=run_id)
    recorder.principals.clear()
    recorder.calls.clear()
    decided = await runtime.decide(
        approval.id, tenant="acme", actor="boss@acme", approve=True, seen_hash=approval.args_hash, connect_tool=connect
    )
    assert decided.status == "executed"
    [(server, principal)] = recorder.principals
    assert (server, principal.subject, principal.run, principal.actor) == (
        "crm",
        APPROVALS_SUBJECT,
        run_id,
        "boss@acme",
    )
    assert principal.scopes == {TOOLS_BY_NAME["crm.issue_credit"].scope}  # that one tool's scope only
    [(_, tool, meta)] = recorder.calls
    assert tool == "issue_credit" and meta[META_RUN] == run_id and meta[META_TRACEPARENT] == trace
    assert meta[META_IDEMPOTENCY_KEY] == f"approval-{approval.id}"
    with world.servers["crm"].db.admin_session() as session:
        subjects = {r.subject for r in session.exec(select(AuditRecord)).all()}
    assert APPROVALS_SUBJECT in subjects and all(
        s == APPROVALS_SUBJECT or (s or "").startswith(SPECIALIST_SUBJECT_PREFIX) for s in subjects
    )
    executed = [e for e in runtime.store.audit_trail(run_id) if e.decision == "approved call executed"]
    assert [(e.actor, e.args_hash) for e in executed] == [("boss@acme", approval.args_hash)]


async def test_an_approved_call_whose_server_is_unreachable_fails_is_audited_and_escalates_the_run(
    world: World, runtime: Runtime, dev_keys: Any
) -> None:
    run_id = await run_email(world, runtime, *REFUND_120)
    [approval] = runtime.store.approvals(run_id=run_id)
    nowhere: dict[ServerName, str] = {"crm": f"http://127.0.0.1:{free_port()}/mcp"}  # nothing listens there
    decided = await runtime.decide(
        approval.id,
        tenant="acme",
        actor="boss@acme",
        approve=True,
        seen_hash=approval.args_hash,
        connect_tool=http_connector(Routes(Tier(nowhere, TokenIssuer(dev_keys, issuer=ISSUER)))),
    )
    assert decided.status == "failed" and decided.result["code"] == "unavailable"
    run = runtime.store.run(run_id)
    assert run.status == "escalated" and "crm.issue_credit failed: unavailable" in run.reason
    failed = [e for e in runtime.store.audit_trail(run_id) if e.decision == "approved call failed"]
    assert len(failed) == 1 and "unavailable" in failed[0].outcome and failed[0].actor == "boss@acme"
    assert credits(world) == []


async def test_an_approved_call_answered_with_a_malformed_result_fails_cleanly_and_escalates_the_run(
    world: World, runtime: Runtime
) -> None:
    """The server made the call but its answer is not the tool's output: the decision is recorded as failed with
    `tool_output_invalid`, audited, and the run escalates; nothing escapes `decide`."""
    from coordinator.eval import FaultInjector, Probe
    from coordinator.eval._suite import Fault

    run_id = await run_email(world, runtime, *REFUND_120)
    [approval] = runtime.store.approvals(run_id=run_id)
    probe = Probe()
    probe.start([Fault(server="crm", tool="issue_credit", error="malformed")])

    def spoiling(tenant: str, server: ServerName, scopes: list[str], caller: Attribution | None = None) -> Any:
        return world.connect(tenant, server, scopes, caller, middleware=[FaultInjector(probe, server)])

    decided = await runtime.decide(
        approval.id, tenant="acme", actor="boss@acme", approve=True, seen_hash=approval.args_hash, connect_tool=spoiling
    )
    assert probe.injected == 1
    assert decided.status == "failed" and decided.result["code"] == "tool_output_invalid"
    run = runtime.store.run(run_id)
    assert run.status == "escalated" and "crm.issue_credit failed: tool_output_invalid" in run.reason
    assert [e.decision for e in runtime.store.audit_trail(run_id) if e.decision.startswith("approved call")] == [
        "approved call failed"
    ]


# -- deciding once, under concurrency, on SQLite and PostgreSQL ----------------------------------------------


def park(
    store: Store,
    tenant: str,
    amount_cents: int = 500,
    *,
    tool: str = "crm.issue_credit",
    arguments: dict[str, object] | None = None,
) -> ApprovalRow:
    """A run of `tenant` waiting for one approval (made as a worker records it): of a credit of `amount_cents`, or
    of `tool` with `arguments`."""
    run_id, _ = store.start_run(tenant, f"src-{uuid.uuid4().hex}", {}, "crm_writer", RunBudget())
    claim = store.claim("worker", 60)
    assert claim is not None and claim.handoff.run_id == run_id
    if arguments is None:
        arguments = {"account_id": "A-1", "amount_cents": amount_cents, "reason": "duplicate charge"}
    now = datetime.now(UTC)
    row = ApprovalRow(
        id=f"AP-{uuid.uuid4().hex[:12]}",
        run_id=run_id,
        tenant=tenant,
        tool=tool,
        arguments=arguments,
        args_hash=args_hash(arguments),
        reason=f"{tool} needs a person's approval",
        status="pending",
        result={},
        created_at=now,
        expires_at=now + timedelta(hours=1),
    )
    finished = store.finish(
        Outcome(claim.handoff, "worker", state="done", run_status="awaiting_approval", approvals=[row])
    )
    assert finished.recorded
    return row


def race(store: Store, row: ApprovalRow, approves: list[bool]) -> list[str | DeskhandError]:
    """Decide `row` from one thread per entry of `approves`, all released at once: each one's status or error."""
    start = threading.Barrier(len(approves))
    outcomes: list[str | DeskhandError] = [""] * len(approves)

    def decide(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = store.decide(
                row.id, row.tenant, approve=approves[i], actor=f"approver-{i}", seen_hash=row.args_hash
            ).status
        except DeskhandError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(len(approves))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize(
    "approves", [[True, True], [True, False], [False, True]], ids=["approve2", "approve-reject", "reject-approve"]
)
def test_concurrent_deciders_decide_an_approval_exactly_once(store_url: str, approves: list[bool]) -> None:
    store = Store(store_url)
    try:
        for _ in range(25):
            row = park(store, "acme")
            outcomes = race(store, row, approves)
            won = [o for o in outcomes if isinstance(o, str)]
            lost = [o for o in outcomes if not isinstance(o, str)]
            assert len(won) == 1, outcomes
            assert [e.code for e in lost] == ["conflict"]
            stored = store.approval(row.id)
            assert stored.status == won[0]  # the winner's decision stands; the loser's never overwrote it
            assert stored.decided_by == f"approver-{outcomes.index(won[0])}"
            decisions = [e.decision for e in store.audit_trail(row.run_id) if e.decision.startswith("approval ")]
            assert decisions == [f"approval {won[0]}"]
    finally:
        store.dispose()


def test_a_decided_approval_cannot_be_decided_again_nor_by_another_tenant(store_url: str) -> None:
    store = Store(store_url)
    try:
        row = park(store, "acme")
        with pytest.raises(NotFound):
            store.decide(row.id, "northwind", approve=True, actor="nw", seen_hash=row.args_hash)
        assert store.decide(row.id, "acme", approve=False, actor="boss", seen_hash=row.args_hash).status == "rejected"
        with pytest.raises(Conflict) as again:
            store.decide(row.id, "acme", approve=True, actor="boss", seen_hash=row.args_hash)
        assert again.value.field == "status" and store.approval(row.id).status == "rejected"
    finally:
        store.dispose()
