"""The store's per-handoff path: claim, finish with the next claim, the fence, and the tenant's spend."""

from __future__ import annotations

from pathlib import Path

from coordinator.store import Outcome, Store
from schemas import RunBudget
from specialists.kit import Usage

EVENT = {"sender": "a@b.example", "subject": "s", "body": "b"}


def test_finishing_records_the_outcome_and_claims_the_next_handoff_in_one_go(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    first, _ = store.start_run("acme", "src-1", EVENT, "triage", RunBudget())
    second, _ = store.start_run("acme", "src-2", EVENT, "triage", RunBudget())
    claim = store.claim("w1", 60)
    assert claim is not None and claim.handoff.run_id == first and claim.run_result == {}
    finished = store.finish(Outcome(claim.handoff, "w1", state="done", result={"triage": {"x": 1}}, then_claim=60))
    assert finished.recorded and finished.next is not None
    assert finished.next.handoff.run_id == second and finished.next.handoff.state == "claimed"
    assert store.run(first).result == {"triage": {"x": 1}}
    assert store.claim("w2", 60) is None  # nothing left: the next one is w1's
    store.dispose()


def test_a_worker_that_lost_its_lease_records_nothing(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    run_id, _ = store.start_run("acme", "src-1", EVENT, "triage", RunBudget())
    claim = store.claim("w1", -1)  # a lease already expired: another worker may take it over
    assert claim is not None
    taken = store.claim("w2", 60)
    assert taken is not None and taken.handoff.id == claim.handoff.id and taken.handoff.attempt == 2
    late = store.finish(Outcome(claim.handoff, "w1", state="done", result={"triage": {"late": True}}, then_claim=60))
    assert not late.recorded and late.next is None
    assert store.run(run_id).result == {}
    store.dispose()


def test_a_claim_takes_an_abandoned_handoff_first_then_the_oldest_due_one(store_url: str) -> None:
    """Both walks stop at their first match (see `tests/test_query_plans.py`): a handoff whose lease expired
    (its worker is gone) comes first, even before older pending ones, then pending ones in the order they
    were made, skipping any whose retry is not due yet."""
    store = Store(store_url)
    runs = [store.start_run("acme", f"src-{i}", EVENT, "triage", RunBudget())[0] for i in range(5)]
    claims = [store.claim("w1", 60), store.claim("w1", 60), store.claim("w1", 60), store.claim("w2", -1)]
    assert [c.handoff.run_id for c in claims if c is not None] == runs[:4]
    assert store.release(claims[1].handoff, "w1", "unavailable", delay_seconds=0)  # type: ignore[union-attr]
    assert store.release(claims[2].handoff, "w1", "unavailable", delay_seconds=60)  # type: ignore[union-attr]
    # now: runs[1] pending and due, runs[2] pending for another minute, runs[3] abandoned by w2, runs[4] pending
    taken = [store.claim("w3", 60) for _ in range(4)]
    assert [c.handoff.run_id if c else None for c in taken] == [runs[3], runs[1], runs[4], None]
    assert taken[0] is not None and taken[0].handoff.attempt == 2
    store.dispose()


def test_the_tenant_spend_counts_this_process_at_once_and_others_when_read_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    here, elsewhere = Store(url), Store(url)
    assert here.spend_today("acme", fresh_within=60) == 0.0
    for store, source in ((here, "src-1"), (elsewhere, "src-2")):
        store.start_run("acme", source, EVENT, "triage", RunBudget())
        claim = store.claim("w", 60)
        assert claim is not None
        usage = Usage(model="m", input_tokens=10, output_tokens=5, cost_usd=0.25)
        store.finish(Outcome(claim.handoff, "w", state="done", usage=[("triage", usage)]))
    assert here.cached_spend("acme", 60) == 0.25  # its own spend, without a query
    assert here.spend_today("acme", fresh_within=60) == 0.25  # the other process's is not seen yet
    assert here.spend_today("acme", fresh_within=0) == 0.5  # read again: both
    assert here.cached_spend("northwind", 60) is None
    here.dispose()
    elsewhere.dispose()


def test_a_runs_next_handoff_stays_with_the_worker_that_finished_the_last(tmp_path: Path) -> None:
    """With the claim it finished, a worker takes its run's next step under a fresh lease, ahead of older work."""
    from coordinator.store import Claim

    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    mine, _ = store.start_run("acme", "src-1", EVENT, "triage", RunBudget())
    older, _ = store.start_run("acme", "src-2", EVENT, "triage", RunBudget())
    claim = store.claim("w1", 60)
    assert isinstance(claim, Claim) and claim.handoff.run_id == mine
    nxt = claim.handoff.next_hop("drafting", RunBudget(), RunBudget())
    finished = store.finish(
        Outcome(
            claim.handoff,
            "w1",
            state="done",
            next_handoffs=[nxt],
            result={"triage": {"x": 1}},
            then_claim=60,
            prior=claim,
        )
    )
    assert finished.next is not None and finished.next.handoff.id == nxt.id
    assert finished.next.handoff.state == "claimed" and finished.next.run_result == {"triage": {"x": 1}}
    other = store.claim("w2", 60)  # another worker gets the older run, not this one's next step
    assert other is not None and other.handoff.run_id == older
    [_, second] = store.handoffs(mine)
    assert (second.state, second.lease_owner) == ("claimed", "w1")
    store.dispose()


def test_audit_and_exchanges_are_written_behind_the_handoff_and_never_lost_on_dispose(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    url = f"sqlite:///{tmp_path / 'c.db'}"
    store = Store(url)
    run_id, _ = store.start_run("acme", "src-1", EVENT, "triage", RunBudget())
    claim = store.claim("w", 60)
    assert claim is not None
    audit = {"at": datetime.now(UTC), "tenant": "acme", "run_id": run_id, "actor": "coordinator"}
    audit |= {"specialist": "triage", "tool": "", "args_hash": "", "decision": "routed to drafting", "outcome": "x"}
    exchange = {"run_id": run_id, "step": 1, "specialist": "triage", "kind": "tool", "name": "crm.find_customer"}
    exchange |= {"request": {"email": "a@b.example"}, "response": {"customer": None}, "error": False}
    store.finish(Outcome(claim.handoff, "w", state="done", audit=[audit], exchanges=[exchange]))  # type: ignore[list-item]
    assert [e.name for e in store.exchanges(run_id)] == ["crm.find_customer"]  # a reader sees what is queued
    second, _ = store.start_run("acme", "src-2", EVENT, "triage", RunBudget())
    claim = store.claim("w", 60)
    assert claim is not None
    store.finish(Outcome(claim.handoff, "w", state="done", exchanges=[{**exchange, "run_id": second}]))  # type: ignore[list-item]
    store.dispose()  # writes what is still queued
    reopened = Store(url)
    assert [e.name for e in reopened.exchanges(second)] == ["crm.find_customer"]
    assert [a.decision for a in reopened.audit_trail(run_id)][-1] == "routed to drafting"
    reopened.dispose()


def test_each_part_of_the_store_is_a_module_under_400_lines() -> None:
    """One concern per module: the queue, runs, spend, outcomes, approvals and records do not grow back into one."""
    package = Path(__file__).resolve().parents[2] / "coordinator" / "store"
    sizes = {path.name: len(path.read_text().splitlines()) for path in package.glob("*.py")}
    assert {"_queue.py", "_runs.py", "_outcome.py", "_approvals.py", "_records.py"} <= sizes.keys()
    assert {name: lines for name, lines in sizes.items() if lines > 400} == {}


def test_a_store_of_schema_6_gains_the_times_of_handoffs_and_exchanges(store_url: str) -> None:
    from sqlalchemy import inspect, text

    from coordinator.store import LATEST, current_version, migrate

    store = Store(store_url)
    run_id, _ = store.start_run("acme", "src-1", EVENT, "triage", RunBudget())
    with store.engine.begin() as connection:  # back to what version 6 made
        for table, column in (
            ("coord_handoff", "started_at"),
            ("coord_handoff", "finished_at"),
            ("coord_exchange", "at"),
            ("coord_exchange", "duration_ms"),
        ):
            connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        connection.execute(text("DELETE FROM coord_schema_version WHERE version > 6"))
    assert current_version(store.engine) == 6
    assert migrate(store.engine) == LATEST == 8
    columns = {c["name"] for c in inspect(store.engine).get_columns("coord_handoff")}
    assert {"started_at", "finished_at"} <= columns
    assert {"at", "duration_ms"} <= {c["name"] for c in inspect(store.engine).get_columns("coord_exchange")}
    [handoff] = store.handoffs(run_id)  # the rows stay, with no times
    assert handoff.started_at is None and handoff.finished_at is None
    claim = store.claim("w1", 60)
    assert claim is not None and store.finish(Outcome(claim.handoff, "w1", state="done")).recorded
    [handoff] = store.handoffs(run_id)
    assert handoff.started_at is not None and handoff.finished_at is not None
    assert handoff.created_at <= handoff.started_at <= handoff.finished_at
    store.dispose()
