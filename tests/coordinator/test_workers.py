"""Workers as real processes on PostgreSQL, a worker killed mid-run, and a server that goes away.

The fast loop keeps one worker-process test (a worker killed mid-run); the others are slow."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import anyio
import pytest
from sqlmodel import select

from coordinator import CircuitBreaker, Home
from coordinator._registry import load_specialists
from coordinator._service import open_runtime
from coordinator._sessions import SessionPool
from coordinator._worker import work
from coordinator.cli._processes import running_servers
from coordinator.models import OfflineModel
from coordinator.runtime import Runtime, RuntimeSettings
from coordinator.store import HandoffRow, Store
from mcp_servers.helpdesk import DraftRow, NoteRow, TicketRow
from mcp_servers.kit import Database
from schemas import InboundEmail, TenantFile
from tests.coordinator.cli_helpers import ACME, DESKHAND, NORTHWIND, init_on_free_ports
from tests.coordinator.http_servers import serving
from tests.specialists.harness import World

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """A home with both tenants, its four servers on free ports (in a thread here: the workers are the
    processes these tests are about)."""
    home = init_on_free_ports(tmp_path_factory.mktemp("home"), ACME, NORTHWIND)
    with serving(home):
        yield home


def emails(tenants: list[TenantFile], count: int) -> list[tuple[str, InboundEmail]]:
    subjects = ["Invoice copy", "Export to CSV fails", "Add two seats", "Cannot find my order", "Return a tent"]
    out = []
    for i in range(count):
        tenant = tenants[i % 2]
        customer = tenant.customers[i % len(tenant.customers)]
        out.append(
            (
                tenant.tenant,
                InboundEmail(
                    message_id=f"W-{uuid.uuid4().hex[:8]}",
                    sender=customer.email,
                    subject=subjects[i % len(subjects)],
                    body=f"Hello, request number {i}: {subjects[i % len(subjects)].lower()}, please help.",
                ),
            )
        )
    return out


async def submit_all(home: Home, db: str, items: list[tuple[str, InboundEmail]]) -> list[str]:
    async with open_runtime(home, list(home.tenants), db=db) as runtime:
        return [runtime.submit(tenant, email)[0] for tenant, email in items]


def worker(home: Home, db: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [DESKHAND, "work", "--home", str(home.path), "--db", db, "--concurrency", "2", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )


def written_once(home: Home, tickets: list[str]) -> None:
    """Every run's writes happened once: one ticket per message, one note and one draft per ticket."""
    db = Database(home.servers["helpdesk"].db)
    try:
        with db.admin_session() as session:
            rows = session.exec(select(TicketRow).where(TicketRow.source_message_id.in_(tickets))).all()  # type: ignore[union-attr]
            notes = Counter(n.ticket_id for n in session.exec(select(NoteRow)).all())
            drafts = Counter(d.ticket_id for d in session.exec(select(DraftRow)).all())
    finally:
        db.dispose()
    assert sorted(r.source_message_id for r in rows) == sorted(tickets)  # type: ignore[type-var]
    for row in rows:
        assert notes[row.id] == 1, row.id
        assert drafts[row.id] <= 1, row.id


@pytest.mark.slow
@pytest.mark.postgres
async def test_two_worker_processes_share_the_work_and_no_run_is_processed_twice(
    served: Home, pg_store_url: str, tenants: list[TenantFile]
) -> None:
    items = emails(tenants, 10)
    run_ids = await submit_all(served, pg_store_url, items)
    workers = [worker(served, pg_store_url, "--until-idle") for _ in range(2)]
    for process in workers:
        _, err = process.communicate(timeout=240)
        assert process.returncode == 0, err.decode()[-3000:]
    store = Store(pg_store_url)
    try:
        assert all(store.run(r).status in ("completed", "escalated", "awaiting_approval") for r in run_ids)
        with store._session() as session:
            handoffs = session.exec(select(HandoffRow)).all()
        assert all(h.attempt == 1 and h.state in ("done", "escalated") for h in handoffs)
        processes = {h.lease_owner.split(":")[1] for h in handoffs if h.lease_owner}
        assert len(processes) == 2  # both processes did work
    finally:
        store.dispose()
    written_once(served, [e.message_id for _, e in items if e.message_id])


async def while_alive(process: subprocess.Popen[bytes], condition: Callable[[], bool]) -> None:
    """Wait until `condition()` holds, as long as `process` lives: if it exits first, fail at once with its
    stderr (the ceiling is for a process alive but stuck)."""
    with anyio.fail_after(300):
        while not condition():
            if process.poll() is not None:
                _, err = process.communicate()
                pytest.fail(f"the worker exited (code {process.returncode}) first:\n{err.decode()[-3000:]}")
            await anyio.sleep(0.02)  # polling another process's state


def mid_run(store: Store, run_ids: list[str]) -> bool:
    """A handoff past triage is claimed: the worker is in the middle of a run."""
    return any(
        h.state == "claimed" and h.recipient in ("drafting", "compliance", "crm_writer")
        for run_id in run_ids
        for h in store.handoffs(run_id)
    )


@pytest.mark.postgres
async def test_a_worker_killed_mid_run_loses_its_lease_and_another_finishes_writing_once(
    served: Home, pg_store_url: str, tenants: list[TenantFile]
) -> None:
    items = emails(tenants, 8)
    run_ids = await submit_all(served, pg_store_url, items)
    store = Store(pg_store_url)
    first = worker(served, pg_store_url, "--lease", "3")
    try:
        await while_alive(first, lambda: mid_run(store, run_ids))
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    second = worker(served, pg_store_url, "--lease", "3", "--until-idle")
    _, err = second.communicate(timeout=240)
    assert second.returncode == 0, err.decode()[-3000:]
    try:
        assert all(store.run(r).status in ("completed", "escalated", "awaiting_approval") for r in run_ids)
        with store._session() as session:
            reclaimed = [h for h in session.exec(select(HandoffRow)).all() if h.attempt > 1]
        assert reclaimed, "the killed worker held no lease: the test did not kill it mid-run"
    finally:
        store.dispose()
    written_once(served, [e.message_id for _, e in items if e.message_id])


@pytest.mark.slow
@pytest.mark.postgres
async def test_a_worker_told_to_stop_finishes_what_it_holds_and_gives_the_rest_back(
    served: Home, pg_store_url: str, tenants: list[TenantFile]
) -> None:
    """Ctrl-C mid-run: the worker exits 0 holding nothing (no lease left to expire), every handoff it
    began is done, and another worker finishes the runs with no handoff attempted twice."""
    items = emails(tenants, 8)
    run_ids = await submit_all(served, pg_store_url, items)
    store = Store(pg_store_url)
    first = worker(served, pg_store_url)  # a long lease (60 s): a handoff left claimed would stall the rest
    try:
        await while_alive(first, lambda: mid_run(store, run_ids))
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err.decode()[-3000:]
        assert "finishing the handoffs in hand" in err.decode()
        with store._session() as session:
            handoffs = session.exec(select(HandoffRow)).all()
        assert not [h for h in handoffs if h.state == "claimed"], "the stopped worker left handoffs claimed"
        assert any(h.state == "done" for h in handoffs)
        second = worker(served, pg_store_url, "--until-idle")
        _, err = second.communicate(timeout=240)
        assert second.returncode == 0, err.decode()[-3000:]
        assert all(store.run(r).status in ("completed", "escalated", "awaiting_approval") for r in run_ids)
        with store._session() as session:
            assert all(h.attempt == 1 for h in session.exec(select(HandoffRow)).all())
    finally:
        if first.poll() is None:
            first.kill()
        store.dispose()
    written_once(served, [e.message_id for _, e in items if e.message_id])


@pytest.fixture
async def outage_home(tmp_path: Path) -> AsyncIterator[Home]:
    home = init_on_free_ports(tmp_path, ACME)
    yield home


@pytest.mark.slow
async def test_a_server_down_past_the_outage_window_escalates_its_runs_naming_it_and_losing_nothing(
    outage_home: Home, tenants: list[TenantFile]
) -> None:
    items = [(t, e) for t, e in emails(tenants, 6) if t == "acme"]
    settings = RuntimeSettings(
        max_attempts=2, retry_backoff_seconds=0.01, tool_timeout_seconds=5, outage_window_seconds=1.5
    )
    with running_servers(outage_home) as servers:
        async with open_runtime(outage_home, ["acme"], settings=settings) as runtime:
            run_ids = [runtime.submit(t, e)[0] for t, e in items]
            helpdesk = servers["helpdesk"].process
            helpdesk.send_signal(signal.SIGINT)  # the helpdesk goes away after the runs were accepted
            helpdesk.wait(timeout=30)
            await work(runtime, concurrency=2, until_idle=True, poll_seconds=0.01)
            runs = [runtime.store.run(r) for r in run_ids]
            breaker = runtime.breakers["helpdesk"]
            assert breaker.state == "open" and breaker.statistics().opened >= 1
            with runtime.store._session() as session:
                handoffs = session.exec(select(HandoffRow)).all()
    assert all(r.status == "escalated" for r in runs), [(r.status, r.reason) for r in runs]
    assert all("the helpdesk server was unavailable for" in r.reason for r in runs), [r.reason for r in runs]
    assert all(h.attempt == 1 and h.outage_since is not None for h in handoffs)  # waiting spent no attempt
    assert all("triage" not in r.result for r in runs)  # nothing half-done: triage needs the helpdesk


def waiting_for_a_server(store: Store, run_ids: list[str]) -> bool:
    """A handoff failed on the server that is down and went back to the queue."""
    return any(h.state == "pending" and h.error for run_id in run_ids for h in store.handoffs(run_id))


@pytest.mark.slow
async def test_a_server_restarted_within_the_outage_window_escalates_no_run_and_nothing_is_written_twice(
    outage_home: Home, tenants: list[TenantFile]
) -> None:
    """With two attempts and short backoffs, the old rule spent a handoff's attempts inside the outage."""
    items = [(t, e) for t, e in emails(tenants, 6) if t == "acme"]
    settings = RuntimeSettings(max_attempts=2, retry_backoff_seconds=0.2, tool_timeout_seconds=5)
    others = [name for name in outage_home.servers if name != "helpdesk"]
    with ExitStack() as everything:
        everything.enter_context(running_servers(outage_home, only=others))
        first = everything.enter_context(ExitStack())
        first.enter_context(running_servers(outage_home, only=["helpdesk"]))
        async with open_runtime(outage_home, ["acme"], settings=settings) as runtime:
            runtime.breakers["helpdesk"] = CircuitBreaker(failure_threshold=2, reset_after=1.0)
            run_ids = [runtime.submit(t, e)[0] for t, e in items]
            first.close()  # the helpdesk stops (SIGINT) before the runs reach it, and its port refuses
            async with anyio.create_task_group() as tg:
                tg.start_soon(partial(work, runtime, concurrency=2, until_idle=True, poll_seconds=0.01))
                with anyio.fail_after(60):
                    while not waiting_for_a_server(runtime.store, run_ids):  # noqa: ASYNC110 - the store's state
                        await anyio.sleep(0.02)
                everything.enter_context(running_servers(outage_home, only=["helpdesk"]))  # back, same port
            runs = [runtime.store.run(r) for r in run_ids]
            with runtime.store._session() as session:
                handoffs = session.exec(select(HandoffRow)).all()
    # every run went past the helpdesk's steps (these emails are not in the mailbox: crm_writer may refuse them)
    assert all(r.status in ("completed", "escalated", "awaiting_approval") for r in runs)
    assert all("triage" in r.result and "unavailable" not in r.reason for r in runs), [r.reason for r in runs]
    assert any(h.outage_since is not None for h in handoffs)  # some did wait for the helpdesk
    assert all(h.attempt == 1 for h in handoffs)
    written_once(outage_home, [e.message_id for _, e in items if e.message_id])


@pytest.mark.parametrize("deaths", [2, 3])
async def test_a_handoff_taken_over_more_often_than_its_attempts_allow_escalates_its_run(
    world: World, tmp_path: Path, deaths: int
) -> None:
    """Each dead worker claims the handoff under a lease already expired, and the live worker's claim is one
    takeover more: after two deaths that is the third attempt, within the limit; after three, one too many."""
    store = Store(f"sqlite:///{tmp_path / 'coordinator.db'}")
    async with SessionPool(world.connect) as pool:
        runtime = Runtime(
            store=store,
            specialists=load_specialists(),
            pool=pool,
            model=OfflineModel(),
            policies={name: t.policy for name, t in world.tenants.items()},
            settings=RuntimeSettings(max_attempts=3),
        )
        sender = world.tenants["acme"].customers[0].email
        run_id, _ = runtime.submit("acme", InboundEmail(sender=sender, subject="Invoice copy", body="Please."))
        claims = [store.claim(f"dead-{n}", -1) for n in range(deaths)]
        assert all(c is not None and c.handoff.run_id == run_id for c in claims)
        await work(runtime, until_idle=True, poll_seconds=0.01)
    try:
        run = store.run(run_id)
        triage = store.handoffs(run_id)[0]
        assert (triage.attempt, triage.takeovers) == (deaths + 1, deaths)
        if deaths == 2:
            assert "triage" in run.result and "taken over" not in run.reason
        else:
            assert run.status == "escalated" and "triage: taken over 3 times" in run.reason
            assert triage.state == "escalated" and "triage" not in run.result
    finally:
        store.dispose()
