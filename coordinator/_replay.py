"""Failure replay: run a recorded run again, deterministically, from its record alone.

Every run records, per hop, the model's answers and the tools' results as the specialist saw them
(`coord_exchange`). `replay` feeds each specialist its recorded input and answers from that record
(no servers, no model) and compares what it produces now with what it produced then: the same code
gives the same outputs; changed code shows where it diverges. `promote` turns a run into a scenario
line for an evaluation suite, marked `promoted_from` with the run's id; `already_promoted` finds such a
line, so a run is promoted into a suite once.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from coordinator._registry import AnySpecialist
from coordinator.store import ExchangeRow, Store
from schemas import (
    DeskhandError,
    ErrorPayload,
    InvalidArgument,
    ModelOutputError,
    Policy,
    ToolSpec,
    error_from_payload,
)
from schemas.tools import TOOLS_BY_NAME
from specialists.kit import Budget, Generation, In, Judgment, Out, SpecialistContext, Tier, Usage


class Divergence(DeskhandError):
    code = "conflict"


class _ReplayModel:
    name = "replay"

    def __init__(self, rows: deque[ExchangeRow]) -> None:
        self._rows = rows

    async def judge(
        self, judgment: Judgment[In, Out], value: In, *, policy: Policy, tier: Tier, time_left: float | None = None
    ) -> Generation[Out]:
        if not self._rows or self._rows[0].name != judgment.name:
            raise Divergence(
                f"the run now asks the model for {judgment.name!r}; the record has "
                f"{self._rows[0].name if self._rows else 'nothing more'!r}"
            )
        row = self._rows.popleft()
        if row.request != value.model_dump(mode="json"):
            raise Divergence(f"{judgment.name}: the model is now asked something else than in the record")
        return Generation(output=judgment.output.model_validate(row.response), usage=Usage(model="replay"))


class _ReplayToolbox:
    def __init__(self, rows: deque[ExchangeRow]) -> None:
        self._rows = rows

    @property
    def available(self) -> frozenset[str]:
        return frozenset(TOOLS_BY_NAME)

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        if not self._rows or self._rows[0].name != spec.qualified_name:
            raise Divergence(
                f"the run now calls {spec.qualified_name}; the record has "
                f"{self._rows[0].name if self._rows else 'no more calls'}"
            )
        row = self._rows.popleft()
        if row.request != args.model_dump(mode="json"):
            raise Divergence(f"{spec.qualified_name} is now called with other arguments than in the record")
        if row.error:
            raise error_from_payload(ErrorPayload.model_validate(row.response))
        return spec.output.model_validate(row.response)


@dataclass
class ReplayReport:
    run_id: str
    steps: list[tuple[int, str, str]] = field(default_factory=list)
    """(step, specialist, `same` | `different` | what went wrong)."""

    @property
    def identical(self) -> bool:
        return all(outcome == "same" for _, _, outcome in self.steps)


async def replay(
    store: Store, specialists: Mapping[str, AnySpecialist], policies: Mapping[str, Policy], run_id: str
) -> ReplayReport:
    run = store.run(run_id)
    exchanges = store.exchanges(run_id)
    if not exchanges:
        raise ModelOutputError(f"run {run_id} has no recorded exchanges (recorded by deskhand 0.1 store v2 and later)")
    report = ReplayReport(run_id)
    for handoff in store.handoffs(run_id):
        mine = [e for e in exchanges if e.step == handoff.step and e.specialist == handoff.recipient]
        if not mine:
            continue
        specialist = specialists[handoff.recipient]
        model_rows = deque(e for e in mine if e.kind == "model")
        tool_rows = deque(e for e in mine if e.kind == "tool")
        recorded = next((e.response for e in mine if e.kind == "output"), None)
        ctx = SpecialistContext(
            tenant=run.tenant,
            run_id=run.id,
            policy=policies[run.tenant],
            toolbox=_ReplayToolbox(tool_rows),
            model=_ReplayModel(model_rows),
            budget=Budget(),
            manifest=specialist.manifest,
            step=handoff.step,
        )
        try:
            output = await specialist.run(specialist.manifest.input.model_validate(handoff.payload), ctx)
        except DeskhandError as exc:
            outcome = "same" if recorded is None and mine[-1].error else f"{exc.code}: {exc.message}"
            report.steps.append((handoff.step, handoff.recipient, outcome))
            continue
        same = recorded is not None and output.model_dump(mode="json") == recorded
        report.steps.append((handoff.step, handoff.recipient, "same" if same else "different"))
    return report


def promote(store: Store, run_id: str, scenario_id: str | None = None) -> dict[str, Any]:
    """A scenario line (DESIGN §7) that expects what this run did: the email, its triage, its outcome, its tools."""
    run = store.run(run_id)
    if "sender" not in run.event:  # an account review, say: a scenario is an email and what became of it
        raise InvalidArgument(
            f"run {run_id} started from no email (workflow {run.result.get('workflow')!r}): only a run started "
            "from an email becomes a scenario",
            field="run",
        )
    triage = run.result.get("triage", {})
    called = sorted({e.name for e in store.exchanges(run_id) if e.kind == "tool" and not e.error})
    expect: dict[str, Any] = (
        {"outcome": run.status} if run.status in ("completed", "escalated", "awaiting_approval") else {}
    )
    if triage:
        expect.update(category=triage["classification"]["category"], priority=triage["priority"], queue=triage["queue"])
    if called:
        expect["tools_called"] = called
    email = run.event
    return {
        "id": scenario_id or default_id(run_id),
        "tenant": run.tenant,
        "email": {"from": email["sender"], "subject": email["subject"], "body": email["body"]},
        "expect": expect,
        "promoted_from": run_id,
    }


def default_id(run_id: str) -> str:
    return f"promoted-{run_id}"


def already_promoted(scenarios: str, run_id: str) -> dict[str, Any] | None:
    """The line of a suite's `scenarios.jsonl` text promoted from `run_id`: marked with it, or, written before
    lines were marked, with its default id. None when there is none."""
    return next((s for s in _scenarios(scenarios) if run_id in (s.get("promoted_from"), _id_run(s.get("id")))), None)


def scenario_ids(scenarios: str) -> set[str]:
    """The ids of the scenario lines in a suite's `scenarios.jsonl` text."""
    return {s["id"] for s in _scenarios(scenarios) if isinstance(s.get("id"), str)}


def _scenarios(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects of a `scenarios.jsonl` text; other lines are the suite loader's to report."""
    for line in text.splitlines():
        try:
            scenario = json.loads(line)
        except ValueError:
            continue
        if isinstance(scenario, dict):
            yield scenario


def _id_run(scenario_id: object) -> str | None:
    prefix = default_id("")
    return scenario_id[len(prefix) :] if isinstance(scenario_id, str) and scenario_id.startswith(prefix) else None


def scenario_line(scenario: dict[str, Any]) -> str:
    return json.dumps(scenario, ensure_ascii=False)
