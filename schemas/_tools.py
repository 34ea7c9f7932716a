"""Tool contracts: what each MCP tool takes, returns, needs, and does to the world.

A `ToolSpec` is the single description of a tool that the server implementing it and the
client calling it share. Servers publish the same facts in each tool's `_meta` under the
`META_*` keys, so a client that never imported this module (an IDE) still sees them.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from schemas._tenancy import Scope, ServerName, server_of_scope

SideEffect = Literal["read", "write"]

META_SCOPE: Final = "deskhand/scope"
META_SIDE_EFFECT: Final = "deskhand/side-effect"
META_APPROVAL: Final = "deskhand/approval"
META_IDEMPOTENCY_KEY: Final = "deskhand/idempotency-key"
"""The request `_meta` key that carries a write's idempotency key."""
META_TRACEPARENT: Final = "traceparent"
META_RUN: Final = "deskhand/run"
"""The request `_meta` key that carries the id of the run a call is made for (the coordinator sends it beside
the `traceparent`; servers write both into their audit rows). Asserted by a caller the server has authenticated."""


class ToolSpec(BaseModel):
    """One tool's contract: its name, models, scope, side effect and whether an agent needs approval."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    server: ServerName
    name: str
    title: str
    description: str
    scope: Scope
    side_effect: SideEffect
    input: type[BaseModel]
    output: type[BaseModel]
    approval: bool = False
    """True when an agent's call needs a person's approval (enforced by the coordinator)."""
    destructive: bool = False
    idempotent: bool = False
    """True when repeating the call with the same arguments changes nothing more (with or without a key)."""

    @model_validator(mode="after")
    def _scope_of_its_server(self) -> ToolSpec:
        if server_of_scope(self.scope) != self.server:
            raise ValueError(
                f"tool {self.name!r}: scope {self.scope!r} belongs to the server "
                f"{server_of_scope(self.scope)!r}, not to {self.server!r} (a scope's prefix names its server)"
            )
        return self

    @property
    def qualified_name(self) -> str:
        return f"{self.server}.{self.name}"

    def meta(self) -> dict[str, object]:
        return {META_SCOPE: self.scope, META_SIDE_EFFECT: self.side_effect, META_APPROVAL: self.approval}


class Input(BaseModel):
    """Base of every tool's input model: unknown arguments are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Output(BaseModel):
    """Base of every tool's output model."""

    model_config = ConfigDict(frozen=True)
