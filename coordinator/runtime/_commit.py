"""The pipelined commit: a handoff's outcome committed in a task of its own while its worker goes on with the
run's next handoff, and what a next handoff that must be dropped raises."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from coordinator.store import Finished


class Committing:
    """A handoff's outcome being committed in a task of its own while its worker goes on with the run's
    next handoff (claimed in that same transaction). The commit runs where the store runs its work: on
    the event loop for SQLite (as soon as the next handoff first waits), in a worker thread for
    PostgreSQL. Until it is committed, the next handoff may read and think (tool reads, the model) but
    not act: its writes, and the recording of its own outcome, wait for `committed()`. If the commit
    did not happen (the lease was lost), the next handoff is dropped before it has written anything."""

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
