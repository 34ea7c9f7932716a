"""The pipelined commit: the handoffs one claim loop runs one after another (`HandoffChain`), each outcome
recorded with the loop's next claim in one transaction, and committed behind the run's next handoff when the
run goes on with this worker."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import anyio
from anyio.abc import TaskGroup

from coordinator.store import Claim, Finished, Outcome, Store

T = TypeVar("T")


class HandoffChain:
    """The handoffs one worker's claim loop runs, one after another, under `lease_seconds` leases.

    It holds at most one claimed handoff (`claim`). Its outcome is recorded (`record`) with the worker's next
    claim in the same transaction: the run's own next handoff when there is one (it stays with this worker),
    else the oldest claimable one. When the run goes on with this worker and `commits` is given, that commit
    runs in a task there while the next handoff starts: the next one may read and think (tool reads, the
    model) but writes nothing, and records nothing, before `committed()`; if the commit was not made (the
    lease was lost), the next one is dropped before it has written anything (`Abandoned`)."""

    def __init__(self, store: Store, worker: str, lease_seconds: float, commits: TaskGroup | None = None) -> None:
        self.store = store
        self.worker = worker
        self.lease_seconds = lease_seconds
        self._commits = commits
        self.claim: Claim | None = None
        """The handoff in hand: claimed, not yet run."""
        self.claimed_in = 0.0
        """The seconds the queue took to give the handoff in hand (0 for one that followed its run's last)."""
        self._running: Claim | None = None
        self._behind: _Committing | None = None

    async def claim_from_queue(self) -> Claim | None:
        """With no handoff in hand, claim one from the queue (None if nothing is claimable)."""
        assert self.claim is None, "a handoff is already in hand"
        started = time.perf_counter()
        self.claim = await self._stored(lambda: self.store.claim(self.worker, self.lease_seconds))
        self.claimed_in = time.perf_counter() - started if self.claim is not None else 0.0
        return self.claim

    def start(self) -> tuple[Claim, float]:
        """Take the handoff in hand to run it, with the seconds its claim took; until it is recorded or given
        back, nothing is in hand."""
        claim, claimed_in = self.claim, self.claimed_in
        assert claim is not None, "no handoff in hand"
        self._running, self.claim, self.claimed_in = claim, None, 0.0
        return claim, claimed_in

    async def committed(self) -> None:
        """Before writing anything: the previous handoff's outcome must be committed; `Abandoned` if it was not
        (another worker holds the run's handoff now)."""
        if self._behind is not None:
            await self._behind.committed()
            self._behind = None

    async def record(self, outcome: Outcome) -> Finished | None:
        """Record the outcome of the running handoff, claiming the worker's next handoff in the same transaction
        (then in hand); committed behind that next handoff when it is the run's own (see the class docstring), and
        then None is returned, else what the store did."""
        running = self._running
        assert running is not None and outcome.handoff.id == running.handoff.id, "not the running handoff"
        await self.committed()
        outcome = dataclasses.replace(outcome, then_claim=self.lease_seconds, prior=running)
        self._running = None
        if self._commits is not None and len(outcome.next_handoffs) == 1:
            self._behind = _Committing()
            self._commits.start_soon(self._behind.run, lambda: self._stored(lambda: self.store.finish(outcome)))
            self.claim = running.following(outcome.next_handoffs[0], outcome.result)
            return None
        finished = await self._stored(lambda: self.store.finish(outcome))
        self.claim = finished.next
        return finished

    async def release(
        self, error: str, delay_seconds: float, *, attempt: bool = True, outage_since: datetime | None = None
    ) -> None:
        """Give the running handoff back to the queue for another try, not before `delay_seconds` (see
        `Store.release`); nothing is in hand after."""
        running = self._running
        assert running is not None, "no handoff is running"
        await self.committed()
        self._running = None
        await self._stored(
            lambda: self.store.release(
                running.handoff, self.worker, error, delay_seconds, attempt=attempt, outage_since=outage_since
            )
        )

    def drop(self) -> None:
        """The running handoff was abandoned (its predecessor's commit was not made): it is not ours any more."""
        self._running = self._behind = None

    async def give_back(self) -> None:
        """Stopping: hand the handoff in hand (the run's next, claimed with the last outcome) back to the queue,
        without spending an attempt, once that outcome is committed."""
        if self.claim is None:
            return
        claim, self.claim = self.claim, None
        try:
            await self.committed()
        except Exception:  # noqa: BLE001 - not recorded: the handoff is not ours to give back
            return
        await self._stored(lambda: self.store.release(claim.handoff, self.worker, "", 0.0, attempt=False))

    async def _stored(self, call: Callable[[], T]) -> T:
        """A store call where the store's database runs blocking work (see `Runtime.stored`)."""
        return await self.store.database.run(call)


class _Committing:
    """A handoff's outcome being committed in a task of its own. The commit runs where the store runs its work:
    on the event loop for SQLite (as soon as the next handoff first waits), in a worker thread for PostgreSQL."""

    def __init__(self) -> None:
        self._done = anyio.Event()
        self._recorded = False
        self._error: BaseException | None = None

    async def run(self, commit: Callable[[], Awaitable[Finished]]) -> None:
        try:
            self._recorded = (await commit()).recorded
        except BaseException as exc:  # noqa: BLE001 - raised where the worker waits for it
            self._error = exc
        finally:
            self._done.set()

    async def committed(self) -> None:
        """Wait for the commit; `Abandoned` if it was not made (another worker holds the handoff now)."""
        await self._done.wait()
        if self._error is not None:
            raise self._error
        if not self._recorded:
            raise Abandoned("the previous handoff's outcome was not recorded (its lease was lost)")


class Abandoned(Exception):
    """A handoff begun before its predecessor's outcome was committed, which then was not: drop it."""
