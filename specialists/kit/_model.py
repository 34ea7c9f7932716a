"""The model protocol: structured judgment into pydantic models, with usage and cost.

Specialists follow a procedure written in code and ask a model only for judgment. A `Judgment`
names one kind of judgment (classify an email, write a reply, review a draft): its input and
output models, the instructions an LLM gets, and optionally an `offline` function that makes the
same judgment deterministically from the tenant's policy (the offline engine). A `Model` backend
(coordinator/models: offline, anthropic, a scripted test model) turns a judgment and its input
into a `Generation`: the validated output and what it cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

from schemas import Policy

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)
Tier = Literal["small", "large"]
"""Model size a specialist asks for: small for classification and review, large for writing."""


@dataclass(frozen=True)
class Judgment(Generic[In, Out]):
    name: str
    """Stable name, `<specialist>.<judgment>` (e.g. `triage.classify`); recorded with every generation."""
    instructions: str
    """What an LLM is asked to do (the tenant's policy is given to it separately, cached)."""
    input: type[In]
    output: type[Out]
    offline: Callable[[In, Policy], Out] | None = None
    """The same judgment made deterministically from the policy; None if only an LLM can make it."""


class Usage(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens


@dataclass(frozen=True)
class Generation(Generic[Out]):
    output: Out
    usage: Usage


@runtime_checkable
class Model(Protocol):
    """A model backend. Raises `ModelOutputError` for malformed or refused output, never returns it."""

    @property
    def name(self) -> str: ...

    async def judge(
        self, judgment: Judgment[In, Out], value: In, *, policy: Policy, tier: Tier, time_left: float | None = None
    ) -> Generation[Out]:
        """`time_left`: seconds the run may still spend; a backend bounds its timeouts and retries by it."""
        ...
