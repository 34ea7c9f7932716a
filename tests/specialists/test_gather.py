"""`gather`: independent calls at once, results in argument order, every call run to its end."""

from __future__ import annotations

import anyio
import pytest

from schemas import Conflict, NotFound
from specialists.kit import gather

pytestmark = pytest.mark.anyio


async def test_the_calls_run_at_once_and_answer_in_argument_order() -> None:
    first_waiting = anyio.Event()
    order: list[str] = []

    async def first() -> str:
        order.append("first started")
        first_waiting.set()
        await second_done.wait()  # made one after the other, this would wait forever
        return "one"

    second_done = anyio.Event()

    async def second() -> int:
        order.append("second started")
        await first_waiting.wait()
        second_done.set()
        return 2

    with anyio.fail_after(5):  # a guard only: the calls finish at once when they run at once
        one, two = await gather(first(), second())
    assert (one, two) == ("one", 2)
    assert order == ["first started", "second started"]  # started in argument order


async def test_a_failure_is_raised_as_itself_after_every_call_has_ended() -> None:
    release = anyio.Event()
    finished: list[str] = []

    async def fails_at_once() -> None:
        raise NotFound("ticket 'T-1' not found")

    async def write() -> str:
        await release.wait()
        finished.append("write")
        return "written"

    async def fails_later() -> None:
        release.set()
        raise Conflict("another conflict")

    with pytest.raises(NotFound, match="T-1"):  # the first in argument order, not an exception group
        await gather(fails_at_once(), write(), fails_later())
    assert finished == ["write"]  # the write was not cut off by the failure next to it


async def test_no_calls_and_one_call() -> None:
    async def value() -> int:
        return 7

    assert await gather() == ()
    assert await gather(value()) == (7,)
