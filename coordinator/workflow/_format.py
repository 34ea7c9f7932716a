"""The workflow file format (YAML): steps, the edges between them, and how a run ends.

    workflow: support-inbox
    event: email                 # what a run starts from: email or account_review (see EVENTS)
    start: triage
    steps:
      triage:
        specialist: triage       # an entry point of `deskhand.specialists`
        next:                    # the first edge whose `when` holds is taken
          - when: {triage.escalate: true}
            to: crm_writer
            input: {run_id: run.id, triage: triage}
          - to: drafting
            input: {triage: triage}

A value in `input`, `reason` or `approvals` is a path into the run's results: a step's name is that step's
output, `step.field.sub` a field of it, `step.items[].field` that field of each item; `run.id` is the run's id
and `run.revision` how many loop edges (`limit`) the run has taken, this one included; `f(step)` applies one of
the coordinator's functions (FUNCTIONS); `null` is no value. A condition maps a path to a value (equality), to
`{in: [...]}`, or to `{gt|ge|lt|le: number}`; all of them must hold.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

StepName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
WorkflowName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
Path = Annotated[str, StringConstraints(min_length=1, max_length=200)]
EndState = Literal["completed", "escalated", "awaiting_approval"]
EventName = Literal["email", "account_review"]
"""The events a run may start from (their models: `EVENTS`)."""

_Strict = ConfigDict(extra="forbid", frozen=True)


class Test(BaseModel):
    """What a path's value must be: one of `in`, or within the bounds given."""

    model_config = _Strict

    in_: list[Any] | None = Field(default=None, alias="in")
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    @model_validator(mode="after")
    def _some(self) -> Test:
        if self.in_ is None and all(v is None for v in (self.gt, self.ge, self.lt, self.le)):
            raise ValueError("a test needs `in` or one of gt, ge, lt, le")
        return self


class Edge(BaseModel):
    model_config = _Strict

    when: dict[Path, Test | bool | int | float | str] = Field(default_factory=dict)
    """Conditions on the run's results, all of which must hold (none: always)."""
    to: StepName | None = None
    """The next step; or `end`."""
    input: dict[str, Path | None] | Path = Field(default_factory=dict)
    """The recipient's input, field by field: a path for each (see the module's doc) or null; or one path to
    the whole input (`input: triage.email` for a specialist that reads the email)."""
    limit: Annotated[int, Field(ge=1, le=100)] | None = None
    """How many times a run may take this edge; past it the run escalates. Every loop needs one."""
    end: EndState | None = None
    """The run ends here, in this state."""
    reason: Path | None = None
    """Why, for an end: a path to a string or a list of strings (joined with '; '), or a quoted sentence."""
    approvals: Path | None = None
    """For `awaiting_approval`: a path to the proposed actions a person must approve."""

    @model_validator(mode="after")
    def _one_target(self) -> Edge:
        if (self.to is None) == (self.end is None):
            raise ValueError(
                "an edge has exactly one of `to` (a step) or `end` (completed|escalated|awaiting_approval)"
            )
        if self.end is not None and (self.input or self.limit):
            raise ValueError("an `end` edge takes no `input` or `limit`")
        if self.approvals is not None and self.end != "awaiting_approval":
            raise ValueError("`approvals` belongs to an edge that ends in awaiting_approval")
        return self


class Step(BaseModel):
    model_config = _Strict

    specialist: StepName
    next: Annotated[list[Edge], Field(min_length=1)]


class WorkflowFile(BaseModel):
    model_config = _Strict

    workflow: WorkflowName
    description: str = ""
    event: EventName = "email"
    start: StepName
    steps: Annotated[dict[StepName, Step], Field(min_length=1)]
