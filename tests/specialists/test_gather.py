"""`gather`: independent calls at once, results in argument order, every call run to its end; `call_or_none`."""

from __future__ import annotations

import anyio
import pytest

from coordinator.models import OfflineModel
from schemas import Conflict, NotFound, ToolNotAvailable
from schemas.tools import crm
from specialists.kit import call_or_none, gather
from specialists.triage import specialist as triage
from tests.specialists.harness import World

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


async def test_call_or_none_answers_none_for_not_found_and_the_result_otherwise(world: World) -> None:
    acme, northwind = world.tenants["acme"], world.tenants["northwind"]
    async with world.context(triage, "acme", OfflineModel()) as ctx:
        own = await call_or_none(
            ctx.toolbox, crm.GET_ACCOUNT, crm.GetAccountIn(account_id=acme.customers[0].account), crm.Account
        )
        other = await call_or_none(  # another tenant's id is not found here, not an error
            ctx.toolbox, crm.GET_ACCOUNT, crm.GetAccountIn(account_id=northwind.customers[0].account), crm.Account
        )
        with pytest.raises(ToolNotAvailable):  # other errors are raised as before
            await call_or_none(
                ctx.toolbox,
                crm.ISSUE_CREDIT,
                crm.IssueCreditIn(account_id="A-1", amount_cents=1, reason="test"),
                crm.Credit,
            )
    assert own is not None and own.id == acme.customers[0].account
    assert other is None
