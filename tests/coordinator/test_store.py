"""The store's per-handoff path: claim, finish with the next claim, the fence, and the tenant's spend."""

from __future__ import annotations

from pathlib import Path

from coordinator.store import Store
from schemas import RunBudget
from specialists.kit import Usage

EVENT = {"sender": "a@b.example", "subject": "s", "body": "b"}


def test_finishing_records_the_outcome_and_claims_the_next_handoff_in_one_go(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    first, _ = store.start_run("acme", "src-1", EVENT, "triage", RunBudget())
    second, _ = store.start_run("acme", "src-2", EVENT, "triage", RunBudget())
    claim = store.claim("w1", 60)
    assert claim is not None and claim.handoff.run_id == first and claim.run_result == {}
    finished = store.finish(claim.handoff, "w1", state="done", result={"triage": {"x": 1}}, then_claim=60)
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
    late = store.finish(claim.handoff, "w1", state="done", result={"triage": {"late": True}}, then_claim=60)
    assert not late.recorded and late.next is None
    assert store.run(run_id).result == {}
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
        store.finish(claim.handoff, "w", state="done", usage=[("triage", usage)])
    assert here.cached_spend("acme", 60) == 0.25  # its own spend, without a query
    assert here.spend_today("acme", fresh_within=60) == 0.25  # the other process's is not seen yet
    assert here.spend_today("acme", fresh_within=0) == 0.5  # read again: both
    assert here.cached_spend("northwind", 60) is None
    here.dispose()
    elsewhere.dispose()
