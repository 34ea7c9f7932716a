"""Timeouts, retries and circuit breakers around a real MCP toolbox, in memory and over HTTP to a real process."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterable
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path
from typing import Literal

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import BaseModel

from coordinator import (
    BreakerToolbox,
    CircuitBreaker,
    DevKeys,
    Home,
    RetryingToolbox,
    TimeoutToolbox,
    TokenIssuer,
    UnreachableAs503,
)
from coordinator._toolbox import McpToolbox
from mcp_servers import crm as crm_server
from mcp_servers.kit import BoundarySettings, Database
from schemas import (
    Conflict,
    DeskhandError,
    IdempotencyConflict,
    InsufficientScope,
    InvalidArgument,
    NotFound,
    RateLimited,
    TenantFile,
    ToolNotAvailable,
    ToolSpec,
    Unauthenticated,
    Unavailable,
)
from schemas.tools import crm
from specialists.kit import Toolbox, call
from tests.conftest import Issuer
from tests.coordinator.cli_helpers import ACME, init_on_free_ports
from tests.coordinator.http_servers import serving
from tests.mcp_servers.helpers import seeded
from tests.specialists.harness import World

pytestmark = pytest.mark.anyio

PRIYA = "priya.raman@brightloop.example.com"  # acme's customer C-101

Outcome = DeskhandError | Literal["pass", "lost", "hang", "gate"]


class Scripted:
    """A test double of the `Toolbox` protocol: each call plays the next of `outcomes`, then calls go to `inner`.

    An error is raised without reaching `inner`; "lost" reaches `inner` and loses its answer; "hang"
    never answers; "gate" waits until `gate` is set, then reaches `inner`; "pass" reaches `inner`.
    """

    def __init__(self, inner: Toolbox, outcomes: Iterable[Outcome] = ()) -> None:
        self.inner = inner
        self.outcomes = list(outcomes)
        self.calls = 0
        self.entered = anyio.Event()
        self.gate = anyio.Event()

    @property
    def available(self) -> frozenset[str]:
        return self.inner.available

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else "pass"
        self.entered.set()
        if isinstance(outcome, DeskhandError):
            raise outcome
        if outcome == "hang":
            await anyio.sleep_forever()
        if outcome == "gate":
            await self.gate.wait()
        result = await self.inner.call(spec, args, key=key)
        if outcome == "lost":
            raise Unavailable("the answer was lost on the way back")
        return result


class Sleeps(list[float]):
    """An injected `sleep` that records each delay instead of waiting."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)


class Clock:
    """An injected monotonic clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def down(n: int) -> list[Outcome]:
    return [Unavailable("server down") for _ in range(n)]


@asynccontextmanager
async def crm_toolbox(
    world: World, tenant: str = "acme", scopes: Iterable[str] = ("crm:read",)
) -> AsyncIterator[Toolbox]:
    """A real `McpToolbox` over a real in-memory MCP client to the world's CRM server."""
    mcp = await world.servers["crm"].in_memory(world.issuer.verifier(), world.issuer.token(tenant, scopes))
    async with Client(mcp) as client:
        yield await McpToolbox.discover({"crm": client})


async def find(toolbox: Toolbox, email: str = PRIYA) -> crm.FindCustomerOut:
    return await call(toolbox, crm.FIND_CUSTOMER, crm.FindCustomerIn(email=email), crm.FindCustomerOut)


async def get_account(toolbox: Toolbox, account_id: str) -> crm.Account:
    return await call(toolbox, crm.GET_ACCOUNT, crm.GetAccountIn(account_id=account_id), crm.Account)


async def logged(toolbox: Toolbox, summary: str) -> list[crm.Interaction]:
    listed = await call(
        toolbox, crm.LIST_INTERACTIONS, crm.ListInteractionsIn(account_id="A-1", limit=100), crm.InteractionList
    )
    return [item for item in listed.items if item.summary == summary]


# -- retries ------------------------------------------------------------------------------------


async def test_read_that_fails_twice_is_retried_and_then_answered(world: World) -> None:
    sleeps = Sleeps()
    async with crm_toolbox(world) as real:
        scripted = Scripted(real, down(2))
        found = await find(RetryingToolbox(scripted, attempts=3, sleep=sleeps, random=lambda: 1.0))
    assert found.customer is not None and found.customer.id == "C-101"
    assert scripted.calls == 3
    assert sleeps == [0.05, 0.1]


async def test_unkeyed_write_is_tried_once_because_it_may_have_happened(world: World) -> None:
    sleeps = Sleeps()
    async with crm_toolbox(world, scopes=("crm:read", "crm:write")) as real:
        scripted = Scripted(real, ["lost"])
        toolbox = RetryingToolbox(scripted, sleep=sleeps)
        with pytest.raises(Unavailable):
            await toolbox.call(crm.LOG_INTERACTION, crm.LogInteractionIn(account_id="A-1", summary="unkeyed"))
        assert scripted.calls == 1 and sleeps == []
        assert len(await logged(real, "unkeyed")) == 1  # it did happen: a retry would have logged it twice


async def test_keyed_write_is_retried_and_happens_once(world: World) -> None:
    sleeps = Sleeps()
    async with crm_toolbox(world, scopes=("crm:read", "crm:write")) as real:
        scripted = Scripted(real, ["lost"])
        toolbox = RetryingToolbox(scripted, sleep=sleeps)
        written = await call(
            toolbox,
            crm.LOG_INTERACTION,
            crm.LogInteractionIn(account_id="A-1", summary="keyed"),
            crm.Interaction,
            key="run-1/step-3/log",
        )
        assert scripted.calls == 2 and len(sleeps) == 1
        assert [item.id for item in await logged(real, "keyed")] == [written.id]


async def test_not_found_from_the_server_is_not_retried(world: World) -> None:
    sleeps = Sleeps()
    async with crm_toolbox(world) as real:
        scripted = Scripted(real)
        with pytest.raises(NotFound) as caught:
            await get_account(RetryingToolbox(scripted, sleep=sleeps), "A-999")
    assert caught.value.code == "not_found"
    assert scripted.calls == 1 and sleeps == []


@pytest.mark.parametrize(
    "error",
    [
        InvalidArgument("bad email", field="email"),
        InsufficientScope("needs crm:write", required="crm:write"),
        Unauthenticated("token expired"),
        Conflict("already closed"),
        IdempotencyConflict("key reused"),
        ToolNotAvailable("not listed"),
    ],
    ids=lambda error: error.code,
)
async def test_errors_that_a_retry_cannot_fix_are_raised_at_once(world: World, error: DeskhandError) -> None:
    sleeps = Sleeps()
    async with crm_toolbox(world) as real:
        scripted = Scripted(real, [error])
        with pytest.raises(DeskhandError) as caught:
            await find(RetryingToolbox(scripted, sleep=sleeps))
    assert caught.value.code == error.code
    assert scripted.calls == 1 and sleeps == []


async def test_rate_limited_read_waits_the_retry_after_the_real_server_gives(
    tmp_path: Path, tenants: list[TenantFile], issuer: Issuer
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'limited.db'}")
    server = seeded(crm_server, db, tenants, BoundarySettings(rate_per_second=1.0, burst=1))
    sleeps = Sleeps()
    try:
        mcp = await server.in_memory(issuer.verifier(), issuer.token("acme", ["crm:read"]))
        async with Client(mcp) as client:
            real = await McpToolbox.discover({"crm": client})
            await find(real)  # spends the burst
            with pytest.raises(RateLimited) as caught:
                await find(RetryingToolbox(real, attempts=2, max_delay=5.0, sleep=sleeps, random=lambda: 0.0))
    finally:
        db.dispose()
    # the recorded sleep is what the server asked for on the first try (about 1s at one call a second),
    # not the 0s that jitter alone would have given; the second try was asked to wait a little less
    assert len(sleeps) == 1
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= sleeps[0] <= 1.0


async def test_retry_after_is_honoured_over_backoff_and_capped_by_max_delay(world: World) -> None:
    sleeps = Sleeps()
    async with crm_toolbox(world) as real:
        scripted = Scripted(real, [RateLimited("slow down", retry_after=0.7), RateLimited("slow down", retry_after=30)])
        found = await find(RetryingToolbox(scripted, max_delay=2.0, sleep=sleeps, random=lambda: 0.0))
    assert found.customer is not None
    assert sleeps == [0.7, 2.0]


@pytest.mark.parametrize("draw", [0.0, 0.25, 1.0])
async def test_backoff_is_the_draw_times_an_exponential_cap(world: World, draw: float) -> None:
    sleeps = Sleeps()
    async with crm_toolbox(world) as real:
        scripted = Scripted(real, down(6))
        toolbox = RetryingToolbox(
            scripted, attempts=6, base_delay=0.05, max_delay=0.3, sleep=sleeps, random=lambda: draw
        )
        with pytest.raises(Unavailable):
            await find(toolbox)
    assert scripted.calls == 6
    assert sleeps == pytest.approx([draw * cap for cap in (0.05, 0.1, 0.2, 0.3, 0.3)])


async def test_jittered_delays_stay_between_zero_and_their_cap(world: World) -> None:
    sleeps = Sleeps()
    async with crm_toolbox(world) as real:
        scripted = Scripted(real, down(10))
        toolbox = RetryingToolbox(scripted, attempts=10, sleep=sleeps, random=random.Random(7).random)
        with pytest.raises(Unavailable):
            await find(toolbox)
    caps = [min(2.0, 0.05 * 2**n) for n in range(9)]
    assert all(0 <= delay <= cap for delay, cap in zip(sleeps, caps, strict=True))
    assert len(set(sleeps)) == len(sleeps)  # jittered, not a fixed schedule


# -- timeouts -----------------------------------------------------------------------------------


async def test_call_slower_than_the_timeout_is_unavailable(world: World) -> None:
    async with crm_toolbox(world) as real:
        with anyio.fail_after(5), pytest.raises(Unavailable) as caught:
            await find(TimeoutToolbox(Scripted(real, ["hang"]), 0.01))
    assert (caught.value.code, caught.value.field) == ("unavailable", "crm")  # the server that did not answer


async def test_each_attempt_gets_its_own_timeout(world: World) -> None:
    sleeps = Sleeps()
    async with crm_toolbox(world) as real:
        scripted = Scripted(real, ["hang"])
        with anyio.fail_after(5):
            found = await find(RetryingToolbox(TimeoutToolbox(scripted, 0.01), sleep=sleeps))
    assert found.customer is not None and found.customer.id == "C-101"
    assert scripted.calls == 2 and len(sleeps) == 1


# -- circuit breaker ----------------------------------------------------------------------------


def breaker_box(inner: Toolbox, clock: Clock, threshold: int = 3) -> tuple[BreakerToolbox, dict[str, CircuitBreaker]]:
    breakers: dict[str, CircuitBreaker] = {}
    toolbox = BreakerToolbox(
        inner, breakers, new_breaker=lambda: CircuitBreaker(failure_threshold=threshold, reset_after=10, clock=clock)
    )
    return toolbox, breakers


async def test_circuit_opens_after_consecutive_unavailable_calls_and_then_fails_fast(world: World) -> None:
    clock = Clock()
    async with crm_toolbox(world) as real:
        scripted = Scripted(real, down(3))
        toolbox, breakers = breaker_box(scripted, clock)
        for _ in range(3):
            with pytest.raises(Unavailable, match="server down"):
                await find(toolbox)
        assert breakers["crm"].state == "open"
        with pytest.raises(Unavailable) as caught:
            await find(toolbox)
        assert (caught.value.code, caught.value.field, caught.value.retry_after) == ("unavailable", "crm", 10)
        clock.now += 4
        with pytest.raises(Unavailable) as caught:
            await find(toolbox)
        assert caught.value.retry_after == 6
    assert scripted.calls == 3  # neither fast failure reached the toolbox inside
    stats = breakers["crm"].statistics()
    assert (stats.state, stats.calls, stats.failures, stats.rejected, stats.opened) == ("open", 3, 3, 2, 1)


async def test_open_circuit_half_opens_after_the_reset_and_an_answer_closes_it(world: World) -> None:
    clock = Clock()
    async with crm_toolbox(world) as real:
        scripted = Scripted(real, down(3))
        toolbox, breakers = breaker_box(scripted, clock)
        for _ in range(3):
            with pytest.raises(Unavailable):
                await find(toolbox)
        clock.now += 9.9
        assert breakers["crm"].state == "open"
        clock.now += 0.1
        assert breakers["crm"].state == "half_open"
        found = await find(toolbox)
    assert found.customer is not None
    assert breakers["crm"].state == "closed"
    assert breakers["crm"].statistics().consecutive_failures == 0


async def test_failed_trial_opens_the_circuit_again_for_a_full_reset(world: World) -> None:
    clock = Clock()
    async with crm_toolbox(world) as real:
        scripted = Scripted(real, down(4))
        toolbox, breakers = breaker_box(scripted, clock)
        for _ in range(3):
            with pytest.raises(Unavailable):
                await find(toolbox)
        clock.now += 10
        with pytest.raises(Unavailable, match="server down"):
            await find(toolbox)  # the trial
        assert breakers["crm"].state == "open"
        with pytest.raises(Unavailable) as caught:
            await find(toolbox)
    assert caught.value.retry_after == 10
    assert scripted.calls == 4 and breakers["crm"].statistics().opened == 2


async def test_half_open_circuit_lets_one_trial_through_at_a_time(world: World) -> None:
    clock = Clock()
    async with crm_toolbox(world) as real:
        scripted = Scripted(real, [*down(3), "gate"])
        toolbox, breakers = breaker_box(scripted, clock)
        for _ in range(3):
            with pytest.raises(Unavailable):
                await find(toolbox)
        clock.now += 10
        scripted.entered = anyio.Event()
        results: list[crm.FindCustomerOut] = []

        async def trial() -> None:
            results.append(await find(toolbox))

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(trial)
                await scripted.entered.wait()
                with pytest.raises(Unavailable) as caught:
                    await find(toolbox)
                assert (caught.value.code, caught.value.field) == ("unavailable", "crm")
                assert scripted.calls == 4  # refused without reaching the server: the trial holds the only call
                scripted.gate.set()
    assert len(results) == 1 and scripted.calls == 4
    assert breakers["crm"].state == "closed"


async def test_cancelled_trial_leaves_the_circuit_half_open_for_the_next_call(world: World) -> None:
    clock = Clock()
    async with crm_toolbox(world) as real:
        scripted = Scripted(real, [*down(3), "hang"])
        toolbox, breakers = breaker_box(scripted, clock)
        for _ in range(3):
            with pytest.raises(Unavailable):
                await find(toolbox)
        clock.now += 10
        scripted.entered = anyio.Event()
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(find, toolbox)
                await scripted.entered.wait()
                tg.cancel_scope.cancel()
        assert breakers["crm"].state == "half_open"
        found = await find(toolbox)
    assert found.customer is not None and breakers["crm"].state == "closed"


async def test_a_late_failure_of_a_call_let_in_before_the_circuit_opened_does_not_extend_it(world: World) -> None:
    clock = Clock()
    async with crm_toolbox(world) as real:
        slow = Scripted(Scripted(real, down(2)), ["gate"])
        toolbox, breakers = breaker_box(slow, clock, threshold=1)

        async def let_in_while_closed_then_held_at_the_gate() -> None:
            with pytest.raises(Unavailable, match="server down"):
                await find(toolbox)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(let_in_while_closed_then_held_at_the_gate)
                await slow.entered.wait()
                with pytest.raises(Unavailable, match="server down"):
                    await find(toolbox)
                assert breakers["crm"].state == "open"
                clock.now += 5
                slow.gate.set()
        with pytest.raises(Unavailable) as caught:
            await find(toolbox)
    assert caught.value.retry_after == 5 and breakers["crm"].statistics().opened == 1


async def test_answers_that_are_errors_are_not_failures_and_end_the_streak(world: World) -> None:
    clock = Clock()
    async with crm_toolbox(world) as real:
        # a real not_found answer from the server, and a rate limit, between unavailable calls
        scripted = Scripted(real, [*down(1), "pass", *down(1), RateLimited("slow down", retry_after=1), *down(1)])
        toolbox, breakers = breaker_box(scripted, clock, threshold=2)
        for _ in range(5):
            with pytest.raises((Unavailable, NotFound, RateLimited)):
                await get_account(toolbox, "A-999")
        for _ in range(5):
            with pytest.raises(NotFound):
                await get_account(toolbox, "A-999")
    stats = breakers["crm"].statistics()
    assert stats.state == "closed" and stats.failures == 3 and stats.opened == 0


async def test_one_breaker_per_server_is_shared_by_every_toolbox_that_reaches_it(world: World) -> None:
    clock = Clock()
    breakers: dict[str, CircuitBreaker] = {}

    def new_breaker() -> CircuitBreaker:
        return CircuitBreaker(failure_threshold=1, clock=clock)

    async with crm_toolbox(world, "acme") as acme, crm_toolbox(world, "northwind") as northwind:
        with pytest.raises(ToolNotAvailable):
            await BreakerToolbox(acme, breakers, new_breaker=new_breaker).call(
                crm.LOG_INTERACTION, crm.LogInteractionIn(account_id="A-1", summary="no scope")
            )
        assert breakers == {}  # refused before any server was reached
        failing = Scripted(acme, down(1))
        with pytest.raises(Unavailable, match="server down"):
            await find(BreakerToolbox(failing, breakers, new_breaker=new_breaker))
        assert set(breakers) == {"crm"}
        reached = Scripted(northwind)
        with pytest.raises(Unavailable) as caught:
            await find(BreakerToolbox(reached, breakers, new_breaker=new_breaker), "someone@northwind.example")
    assert (caught.value.code, caught.value.field) == ("unavailable", "crm") and caught.value.retry_after is not None
    assert reached.calls == 0  # the open circuit answered for the server


# -- a real HTTP server that stops and comes back --------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return init_on_free_ports(tmp_path_factory.mktemp("home"), ACME)


@asynccontextmanager
async def http_client(url: str, token: str) -> AsyncIterator[Client]:
    """`coordinator._sessions.http_connector`'s client for one server, with `UnreachableAs503` under it."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30, transport=UnreachableAs503()) as h,
        Client(streamable_http_client(url, http_client=h)) as client,
    ):
        yield client


async def test_breaker_opens_when_a_real_server_stops_and_closes_when_it_is_back(home: Home) -> None:
    url = home.servers["crm"].url
    token = TokenIssuer(DevKeys.load(home.keys_dir), issuer=home.issuer).mint(
        tenant="acme", scopes=["crm:read"], audience=url
    )
    clock, sleeps = Clock(), Sleeps()
    breakers: dict[str, CircuitBreaker] = {}
    with ExitStack() as everything:
        first = everything.enter_context(ExitStack())
        first.enter_context(serving(home, only=["crm"]))
        async with http_client(url, token) as client:
            reached = Scripted(await McpToolbox.discover({"crm": client}))
            toolbox = BreakerToolbox(
                RetryingToolbox(TimeoutToolbox(reached, 10), attempts=2, sleep=sleeps),
                breakers,
                new_breaker=lambda: CircuitBreaker(failure_threshold=2, reset_after=10, clock=clock),
            )
            assert (await find(toolbox)).customer is not None

            first.close()  # the server stops and its port refuses connections
            for _ in range(2):
                with pytest.raises(Unavailable) as caught:
                    await find(toolbox)
                assert caught.value.field == "crm" and caught.value.retry_after is None  # a real failure, retried once
            assert breakers["crm"].state == "open" and reached.calls == 5 and len(sleeps) == 2
            with pytest.raises(Unavailable) as caught:
                await find(toolbox)
            assert (caught.value.code, caught.value.field, caught.value.retry_after) == ("unavailable", "crm", 10)
            assert reached.calls == 5  # the open circuit answered, the server was not tried

            everything.enter_context(serving(home, only=["crm"]))  # back, on the same port
            with pytest.raises(Unavailable) as caught:
                await find(toolbox)  # still open until the reset time has passed
            assert caught.value.retry_after == 10 and reached.calls == 5
            clock.now += 10
            assert breakers["crm"].state == "half_open"
            found = await find(toolbox)  # the trial, through the same MCP session
            assert found.customer is not None and found.customer.id == "C-101"
            assert breakers["crm"].state == "closed" and reached.calls == 6
