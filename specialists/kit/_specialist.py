"""What a specialist is: a manifest and `async run(task, ctx) -> output`.

A specialist package registers an object implementing `Specialist` under the entry-point group
`deskhand.specialists`; the coordinator loads built-in and third-party specialists the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from schemas import Policy, Scope, args_hash
from specialists.kit._budget import Budget
from specialists.kit._model import Generation, In, Judgment, Model, Out, Tier
from specialists.kit._toolbox import Toolbox

ENTRY_POINT_GROUP = "deskhand.specialists"

TaskT = TypeVar("TaskT", bound=BaseModel, contravariant=True)
ResultT = TypeVar("ResultT", bound=BaseModel, covariant=True)


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    version: str
    description: str
    input: type[BaseModel]
    output: type[BaseModel]
    scopes: tuple[Scope, ...] = ()
    """Every scope the specialist needs, on any server; its tokens carry these and no others."""
    model_tier: Tier | Literal["none"] = "small"
    max_iterations: int = Field(default=4, ge=0, le=50)
    """The most model calls one run of this specialist may make."""


@dataclass
class SpecialistContext:
    """What a specialist runs with: one tenant, its policy, a scoped toolbox, a model, a budget."""

    tenant: str
    run_id: str
    policy: Policy
    toolbox: Toolbox
    model: Model
    budget: Budget
    manifest: Manifest
    step: int = 1
    """The handoff's number within the run (part of every idempotency key)."""
    iterations: int = 0

    async def judge(self, judgment: Judgment[In, Out], value: In) -> Generation[Out]:
        """Ask the model for a judgment, within the manifest's iteration limit and the budget."""
        if self.manifest.model_tier == "none":
            raise TypeError(f"{self.manifest.name} declares model_tier 'none' but asked for {judgment.name}")
        if self.iterations >= self.manifest.max_iterations:
            from schemas import BudgetExhausted

            raise BudgetExhausted(
                f"{self.manifest.name} reached its iteration limit of {self.manifest.max_iterations}",
                field="max_iterations",
            )
        self.budget.reserve_model_call(estimate_tokens(value))
        self.iterations += 1
        generation = await self.model.judge(
            judgment, value, policy=self.policy, tier=self.manifest.model_tier, time_left=self.budget.seconds_left
        )
        self.budget.charge(generation.usage.total_tokens, generation.usage.cost_usd)
        return generation

    def idempotency_key(self, step: str, tool: str, args: BaseModel | dict[str, Any]) -> str:
        """hash(run, step, tool, args): the same write in the same hop of a run always gets the same key,
        so a retried or re-claimed hop repeats its keys and each write happens once."""
        data = args.model_dump(mode="json") if isinstance(args, BaseModel) else args
        # ASCII-escaped as keys have always been made: a run re-claimed across an upgrade repeats its keys
        return args_hash([self.run_id, self.step, step, tool, data], ascii_only=True)[:40]


def estimate_tokens(value: BaseModel) -> int:
    """A cheap upper-ish estimate of the tokens a model call will use (4 characters a token, ×2 for output)."""
    return max(256, len(value.model_dump_json()) // 2)


@runtime_checkable
class Specialist(Protocol, Generic[TaskT, ResultT]):
    @property
    def manifest(self) -> Manifest: ...

    async def run(self, task: TaskT, ctx: SpecialistContext) -> ResultT: ...
