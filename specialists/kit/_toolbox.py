"""The toolbox a specialist calls tools through: typed in, typed out, typed errors.

`Toolbox` is the protocol; the coordinator's MCP implementation discovers tools with
`tools/list` on servers that only show what the specialist's token allows. `WrapperToolbox` is the
base of a toolbox around another (a cross-cutting concern: scopes, timeouts, retries, recording): it
passes everything to the inner toolbox, and a wrapper overrides only what it changes. `ScopedToolbox`
wraps any toolbox so that a specialist can neither see nor call a tool outside its manifest's scopes,
and so that every call is reserved from the run's budget first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any, Protocol, TypeVar, overload

import anyio
from pydantic import BaseModel

from schemas import NotFound, ToolNotAvailable, ToolSpec
from specialists.kit._budget import Budget

Out = TypeVar("Out", bound=BaseModel)
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")


class Toolbox(Protocol):
    @property
    def available(self) -> frozenset[str]:
        """Qualified names (`crm.find_customer`) of the tools this toolbox can call."""
        ...

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        """Call the tool; the result is `spec.output`. Errors raise the matching `DeskhandError`."""
        ...


class WrapperToolbox:
    """A toolbox around `inner`: `available` and `call` are the inner toolbox's until a subclass overrides them."""

    def __init__(self, inner: Toolbox) -> None:
        self.inner = inner

    @property
    def available(self) -> frozenset[str]:
        return self.inner.available

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        return await self.inner.call(spec, args, key=key)


class ScopedToolbox(WrapperToolbox):
    """Only the tools whose scope is in `scopes`, each call reserved from `budget` first."""

    def __init__(self, inner: Toolbox, scopes: Iterable[str], budget: Budget) -> None:
        super().__init__(inner)
        self._scopes = frozenset(scopes)
        self._budget = budget

    @property
    def available(self) -> frozenset[str]:
        from schemas.tools import TOOLS_BY_NAME

        return frozenset(
            name for name in self.inner.available if name in TOOLS_BY_NAME and TOOLS_BY_NAME[name].scope in self._scopes
        )

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        if spec.scope not in self._scopes:
            raise ToolNotAvailable(
                f"{spec.qualified_name} needs scope {spec.scope!r}, which is not in this specialist's manifest"
            )
        if spec.qualified_name not in self.inner.available:
            raise ToolNotAvailable(f"{spec.qualified_name} is not offered by the server to this specialist")
        self._budget.reserve_tool_call(spec.qualified_name)
        return await self.inner.call(spec, args, key=key)


async def call(toolbox: Toolbox, spec: ToolSpec, args: BaseModel, output: type[Out], *, key: str | None = None) -> Out:
    """`toolbox.call` with the result typed as `output` (which must be `spec.output`)."""
    if output is not spec.output:
        raise TypeError(f"{spec.qualified_name} returns {spec.output.__name__}, not {output.__name__}")
    result = await toolbox.call(spec, args, key=key)
    assert isinstance(result, output)
    return result


async def call_or_none(toolbox: Toolbox, spec: ToolSpec, args: BaseModel, output: type[Out]) -> Out | None:
    """`call`, with None when the tool answers `not_found` (a lookup whose absence is an answer)."""
    try:
        return await call(toolbox, spec, args, output)
    except NotFound:
        return None


@overload
async def gather(a: Awaitable[A], b: Awaitable[B], /) -> tuple[A, B]: ...
@overload
async def gather(a: Awaitable[A], b: Awaitable[B], c: Awaitable[C], /) -> tuple[A, B, C]: ...
@overload
async def gather(a: Awaitable[A], b: Awaitable[B], c: Awaitable[C], d: Awaitable[D], /) -> tuple[A, B, C, D]: ...
@overload
async def gather(*calls: Awaitable[Any]) -> tuple[Any, ...]: ...
async def gather(*calls: Awaitable[Any]) -> tuple[Any, ...]:
    """Await independent calls at once (say, lookups that each need only what an earlier call found)
    and return their results in argument order. Every call runs to its end, even when another fails
    (a write is never cut off half-way); then the first failure, in argument order, is raised as itself.

    The calls start in argument order, so a run's record lists them in that order whatever order
    they finish in (replay depends on it)."""
    results: list[Any] = [None] * len(calls)
    failures: list[BaseException | None] = [None] * len(calls)

    async def run(index: int, call: Awaitable[Any]) -> None:
        try:
            results[index] = await call
        except Exception as exc:  # noqa: BLE001 - kept and raised below, in argument order
            failures[index] = exc

    async with anyio.create_task_group() as tg:
        for index, call in enumerate(calls):
            tg.start_soon(run, index, call)
    for failure in failures:
        if failure is not None:
            raise failure
    return tuple(results)
