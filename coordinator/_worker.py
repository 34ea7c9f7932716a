"""Workers: claim handoffs with leases and run them, K at a time, until told to stop (or idle).

SQLite: one process, K concurrent tasks. PostgreSQL: any number of processes (`deskhand work`),
each with K tasks; a worker that dies stops renewing its leases and another worker takes its
handoffs over when they expire (their writes are keyed, so nothing happens twice). A worker told to
stop (`stop`) claims nothing more, finishes the handoffs it is running, and gives back the next one
of each run it holds, so nothing waits for a lease to expire.

An idle worker asks the store for work from one loop only (`_Idle`), backing off to 5 poll intervals
(1 s by default): a fleet left idle overnight costs its database about one claim a second per process,
not five per loop.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable

import anyio

from coordinator.runtime import HandoffChain, Runtime
from coordinator.store import Store
from coordinator.telemetry import handoff_span

logger = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def work(
    runtime: Runtime,
    *,
    concurrency: int = 4,
    until_idle: bool = False,
    poll_seconds: float = 0.2,
    name: str | None = None,
    on_done: Callable[[str], None] | None = None,
    stop: anyio.Event | None = None,
) -> None:
    """Run `concurrency` claim loops. With `until_idle`, return once no handoff is pending or claimed;
    once `stop` is set, return as soon as the handoffs in hand are finished (see the module docstring)."""
    base = name or worker_name()
    store = runtime.store
    lease = runtime.settings.lease_seconds
    stop = stop or anyio.Event()
    idle = _Idle(poll_seconds, stop)

    async def loop(index: int) -> None:
        # a handoff's outcome may be committed in `commits` while the run's next handoff starts (see HandoffChain)
        async with anyio.create_task_group() as commits:
            chain = HandoffChain(store, f"{base}/{index}", lease, commits)
            while True:
                if stop.is_set():
                    await chain.give_back()
                    return
                claim = chain.claim
                if claim is None:
                    claim = await chain.claim_from_queue()
                    if claim is None:
                        if until_idle and await anyio.to_thread.run_sync(store.pending_count) == 0:
                            idle.found()  # the waiting loops look again, and return too
                            return
                        await idle.wait()
                        continue
                    idle.found()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_renew, store, claim.handoff.id, chain.worker, lease)
                    try:
                        with handoff_span(claim.handoff):  # a child of its run's span, in whichever worker
                            await runtime.process(chain)
                    finally:
                        tg.cancel_scope.cancel()
                if on_done is not None:
                    on_done(claim.handoff.run_id)

    async def expire() -> None:
        """Approvals past their deadline escalate their runs (checked every half minute)."""
        while True:
            await anyio.to_thread.run_sync(runtime.expire_approvals)
            await anyio.sleep(30)

    async def wake_on_stop() -> None:
        await stop.wait()
        idle.found()  # the waiting loops see `stop` at once

    async with anyio.create_task_group() as tg:
        tg.start_soon(expire)
        tg.start_soon(wake_on_stop)
        async with anyio.create_task_group() as loops:
            for index in range(concurrency):
                loops.start_soon(loop, index)
        tg.cancel_scope.cancel()


class _Idle:
    """The claim loops of one worker that found nothing to claim. One of them, the watch, asks the store
    again after `poll` seconds, doubling the wait while nothing turns up, up to 5 × `poll`; the others wait
    until a loop claims something (then each tries: a burst of work reaches every loop at once). There is
    always a watch while loops wait: a watch that claims wakes them, and one that claims nothing watches on."""

    def __init__(self, poll: float, stop: anyio.Event) -> None:
        self.poll, self.longest = poll, 5 * poll
        self.interval = poll
        self.stop = stop
        self.watching = False
        self._found = anyio.Event()

    async def wait(self) -> None:
        """Called by a loop whose claim came back empty; returns when it should claim again."""
        if self.watching:
            await self._found.wait()
            return
        self.watching = True
        try:
            with anyio.move_on_after(self.interval):
                await self.stop.wait()
            self.interval = min(2 * self.interval, self.longest)
        finally:
            self.watching = False

    def found(self) -> None:
        """A loop claimed a handoff (or the worker is stopping): the waiting loops try again now, and the
        watch goes back to asking every `poll` seconds."""
        self.interval = self.poll
        self._found.set()
        self._found = anyio.Event()


async def _renew(store: Store, handoff_id: str, worker: str, lease: float) -> None:
    """Keep the lease while the handoff runs (a third of the lease each time)."""
    while True:
        await anyio.sleep(lease / 3)
        await anyio.to_thread.run_sync(store.renew_lease, handoff_id, worker, lease)
