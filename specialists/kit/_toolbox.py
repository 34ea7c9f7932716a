"""The toolbox a specialist calls tools through: typed in, typed out, typed errors.

`Toolbox` is the protocol; the coordinator's MCP implementation discovers tools with
`tools/list` on servers that only show what the specialist's token allows. `ScopedToolbox` wraps
any toolbox so that a specialist can neither see nor call a tool outside its manifest's scopes,
and so that every call is reserved from the run's budget first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from pydantic import BaseModel

from schemas import ToolNotAvailable, ToolSpec
from specialists.kit._budget import Budget

Out = TypeVar("Out", bound=BaseModel)


class Toolbox(Protocol):
    @property
    def available(self) -> frozenset[str]:
        """Qualified names (`crm.find_customer`) of the tools this toolbox can call."""
        ...

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        """Call the tool; the result is `spec.output`. Errors raise the matching `DeskhandError`."""
        ...


class ScopedToolbox:
    """Only the tools whose scope is in `scopes`, each call reserved from `budget` first."""

    def __init__(self, inner: Toolbox, scopes: Iterable[str], budget: Budget) -> None:
        self._inner = inner
        self._scopes = frozenset(scopes)
        self._budget = budget

    @property
    def available(self) -> frozenset[str]:
        from schemas.tools import TOOLS_BY_NAME

        return frozenset(
            name
            for name in self._inner.available
            if name in TOOLS_BY_NAME and TOOLS_BY_NAME[name].scope in self._scopes
        )

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        if spec.scope not in self._scopes:
            raise ToolNotAvailable(
                f"{spec.qualified_name} needs scope {spec.scope!r}, which is not in this specialist's manifest"
            )
        if spec.qualified_name not in self._inner.available:
            raise ToolNotAvailable(f"{spec.qualified_name} is not offered by the server to this specialist")
        self._budget.reserve_tool_call(spec.qualified_name)
        return await self._inner.call(spec, args, key=key)


async def call(toolbox: Toolbox, spec: ToolSpec, args: BaseModel, output: type[Out], *, key: str | None = None) -> Out:
    """`toolbox.call` with the result typed as `output` (which must be `spec.output`)."""
    if output is not spec.output:
        raise TypeError(f"{spec.qualified_name} returns {spec.output.__name__}, not {output.__name__}")
    result = await toolbox.call(spec, args, key=key)
    assert isinstance(result, output)
    return result
