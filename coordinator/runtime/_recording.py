"""The record of one handoff: its exchanges in order (for replay and promote), its time in tools and the model
(added up over handoffs in `RuntimeStats`), what became of it (for the metrics), and the audit entries the
coordinator writes about it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from coordinator.runtime._commit import HandoffChain
from coordinator.store import AuditRecord, Claim, ExchangeRecord, Finished, Outcome
from coordinator.telemetry import judgment_span, record_usage, tool_span
from schemas import DeskhandError, Handoff, Policy, ToolSpec, Unavailable
from specialists.kit import Generation, In, Judgment, Model, Out, Tier, Toolbox, Usage, WrapperToolbox


@dataclass
class RuntimeStats:
    """Where the time of handled handoffs went: in tools, in the model, or in the coordinator itself."""

    handoffs: int = 0
    seconds: float = 0.0
    """From claiming each handoff to recording its outcome."""
    tool_seconds: float = 0.0
    model_seconds: float = 0.0

    @property
    def overhead_ms_per_handoff(self) -> float:
        """The coordinator's own time per handoff: claim, routing, budgets, recording — not tools or the model."""
        if not self.handoffs:
            return 0.0
        return (self.seconds - self.tool_seconds - self.model_seconds) / self.handoffs * 1000


class Recorder:
    """The exchanges of one handoff, in order, for the run's record (replay, promote), and their time."""

    def __init__(self, claim: Claim, chain: HandoffChain) -> None:
        self.claim = claim
        self.chain = chain
        """The handoffs this one follows: nothing is written before the previous one's outcome is committed."""
        self.rows: list[ExchangeRecord] = []
        self.tool_seconds = 0.0
        """Time with at least one tool call in flight (calls made at once count once)."""
        self.model_seconds = 0.0
        self._in_flight = 0
        self._since = 0.0
        self.tier = "none"
        """The model tier the specialist runs on for this handoff's tenant."""
        self.error: DeskhandError | None = None
        """What stopped the specialist, if anything did."""
        self.outcome: Outcome | None = None
        """The outcome recorded (None: the handoff went back to the queue, or was dropped)."""
        self.finished: Finished | None = None
        """What the store did with the outcome (None when its commit went on behind the run's next handoff)."""

    @property
    def handoff(self) -> Handoff:
        return self.claim.handoff

    def add(
        self,
        kind: str,
        name: str,
        request: Any,
        response: Any,
        *,
        error: bool = False,
        at: datetime | None = None,
        duration_ms: float = 0.0,
    ) -> int:
        """Record an exchange made `at` (default: now) and taking `duration_ms` (a tool call's response and time
        may be filled in later with `answer`); its index."""
        self.rows.append(
            {
                "run_id": self.handoff.run_id,
                "step": self.handoff.step,
                "specialist": self.handoff.recipient,
                "kind": kind,
                "name": name,
                "request": request,
                "response": response,
                "error": error,
                "at": at or datetime.now(UTC),
                "duration_ms": duration_ms,
            }
        )
        return len(self.rows) - 1

    def answer(self, index: int, response: Any, *, started: float, error: bool = False) -> None:
        """The answer to exchange `index`, which started at `started` (`time.perf_counter()`)."""
        row = self.rows[index]
        row["response"] = response
        row["error"] = error
        row["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)

    async def record(self, outcome: Outcome) -> None:
        """Record the handoff's outcome through the chain, and keep it (for the metrics)."""
        self.outcome = outcome
        self.finished = await self.chain.record(outcome)

    def tool_started(self) -> float:
        """A tool call starts now; returns now (`time.perf_counter()`), for its own duration."""
        started = time.perf_counter()
        if self._in_flight == 0:
            self._since = started
        self._in_flight += 1
        return started

    def tool_ended(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self.tool_seconds += time.perf_counter() - self._since


def audit_entry(handoff: Handoff, decision: str, outcome: str, *, tool: str = "", hashed: str = "") -> AuditRecord:
    """The coordinator's audit entry about a handoff."""
    return {
        "at": datetime.now(UTC),
        "tenant": handoff.tenant,
        "run_id": handoff.run_id,
        "actor": "coordinator",
        "specialist": handoff.recipient,
        "tool": tool,
        "args_hash": hashed,
        "decision": decision,
        "outcome": outcome[:500],
    }


class RecordingToolbox(WrapperToolbox):
    """Every tool call's arguments and result (or error payload), as the specialist saw them."""

    def __init__(self, inner: Toolbox, recorder: Recorder) -> None:
        super().__init__(inner)
        self._recorder = recorder

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        # the exchange's place is taken when the call starts: calls made at once are recorded in the
        # order they were made, whatever order they finish in (replay answers them in that order)
        index = self._recorder.add("tool", spec.qualified_name, args.model_dump(mode="json"), {})
        if spec.side_effect != "read":
            await self._recorder.chain.committed()
        started = self._recorder.tool_started()
        try:
            with tool_span(spec.qualified_name):
                result = await self.inner.call(spec, args, key=key)
        except DeskhandError as exc:
            self._recorder.answer(index, exc.to_payload().model_dump(), started=started, error=True)
            raise
        except BaseException as exc:  # cancelled, or a bug: the record says so instead of showing no answer
            interrupted = Unavailable(f"the call was interrupted ({type(exc).__name__})")
            self._recorder.answer(index, interrupted.to_payload().model_dump(), started=started, error=True)
            raise
        finally:
            self._recorder.tool_ended()
        self._recorder.answer(index, result.model_dump(mode="json"), started=started)
        return result


class RecordingModel:
    """The model, with every generation's usage kept for the usage ledger and its exchange recorded."""

    def __init__(self, inner: Model, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder
        self.usage: list[Usage] = []

    @property
    def name(self) -> str:
        return self._inner.name

    async def judge(
        self, judgment: Judgment[In, Out], value: In, *, policy: Policy, tier: Tier, time_left: float | None = None
    ) -> Generation[Out]:
        at, started = datetime.now(UTC), time.perf_counter()
        with judgment_span(judgment.name, self.name, tier) as span:
            generation = await self._inner.judge(judgment, value, policy=policy, tier=tier, time_left=time_left)
            record_usage(span, generation.usage)
        took = time.perf_counter() - started
        self._recorder.model_seconds += took
        self.usage.append(generation.usage)
        self._recorder.add(
            "model",
            judgment.name,
            value.model_dump(mode="json"),
            generation.output.model_dump(mode="json"),
            at=at,
            duration_ms=round(took * 1000, 3),
        )
        return generation
