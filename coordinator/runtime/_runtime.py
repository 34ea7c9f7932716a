"""The runtime: runs one handoff at a time through its specialist, then routes the result.

For each claimed handoff: validate the payload against the recipient's input model, build the
specialist's context (its tenant's policy, a toolbox with only its scopes — sessions reused —,
the model, what is left of the run's budget), run it, and record the outcome with the next
handoff in one transaction. Failures become outcomes, never crashes:
- a server down (`ServerUnavailable`: refused, timed out, its circuit open): the handoff goes back to
  the queue to wait, with a backoff and without spending an attempt, until the outage window
  (`outage_window_seconds`, from its first such failure) is spent; then the run escalates, naming the
  server and how long it was down. A short restart escalates nothing;
- another transient failure (`unavailable`, `rate_limited`): the handoff goes back to the queue with a
  backoff, up to `max_attempts`, then the run escalates;
- a handoff whose worker died is taken over by another worker, and that is an attempt too: past
  `max_attempts` the run escalates instead of running it again;
- a budget spent, bad model output, a tool refused: the run escalates with its partial result;
- `awaiting_approval`: the run waits for a person; approving runs exactly the approved call, once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from coordinator._registry import AnySpecialist
from coordinator._resilience import CircuitBreaker, ServerUnavailable
from coordinator._router import Decision
from coordinator._sessions import Connect, SessionPool
from coordinator.runtime._approvals import decide, expire_approvals, propose
from coordinator.runtime._commit import Abandoned, HandoffChain
from coordinator.runtime._context import (
    budget_for,
    budget_left,
    check_model_tiers,
    check_workflows,
    open_toolbox,
    tenant_budget,
    tenant_manifest,
)
from coordinator.runtime._intake import intake, intake_event
from coordinator.runtime._recording import Recorder, RecordingModel, RecordingToolbox, RuntimeStats, audit_entry
from coordinator.runtime._versions import WorkflowVersions
from coordinator.store import ApprovalRow, Claim, Outcome, Store
from coordinator.telemetry import CoordinatorMetrics
from coordinator.workflow import Workflow, builtin_workflows, route
from schemas import (
    BudgetExhausted,
    DeskhandError,
    Handoff,
    HandoffState,
    InboundEmail,
    InvalidArgument,
    NotFound,
    Policy,
    RateLimited,
    RunBudget,
    RunStatus,
    Unavailable,
)
from specialists.kit import Model, ScopedToolbox, SpecialistContext, Usage

TRANSIENT = (Unavailable, RateLimited)
OUTAGE_MAX_DELAY = 15.0
"""The longest a handoff waiting out a server's outage waits between two looks."""


T = TypeVar("T")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuntimeSettings:
    lease_seconds: float = 60.0
    max_attempts: int = 3
    """Tries of a handoff that fails with a transient error or whose worker dies, before its run escalates."""
    retry_backoff_seconds: float = 2.0
    outage_window_seconds: float = 60.0
    """How long a handoff waits for a server that is down (from its first failure of that kind) before its run
    escalates; waiting is not an attempt, so a server restart shorter than this escalates no run."""
    tool_timeout_seconds: float = 20.0
    run_budget: RunBudget = RunBudget()
    """A run's budget, unless its tenant's file sets lower limits (`policy.limits.per_run`)."""
    tenant_daily_spend_usd: float = 50.0
    """A tenant's daily spend, unless its file sets its own (`policy.limits.daily_spend_usd`)."""
    spend_refresh_seconds: float = 5.0
    """How old the tenant's spend total may be when a handoff checks it (this process's own spend is always in it)."""
    tenant_max_running: int = 100
    """A tenant's runs in flight, unless its file sets its own (`policy.limits.runs_in_flight`)."""
    approval_ttl: timedelta = timedelta(hours=72)

    @property
    def retry_window(self) -> timedelta:
        """The longest a keyed write of a run may be sent again after its first try while the run is in flight:
        the run's wall time, the outage window it may wait out, and each attempt's lease, tool timeout and
        backoff (`deskhand prune` keeps every idempotency record younger than this)."""
        backoff = sum(self.retry_backoff_seconds * 2**attempt for attempt in range(self.max_attempts))
        attempts = self.max_attempts * (self.lease_seconds + self.tool_timeout_seconds)
        return timedelta(seconds=self.run_budget.wall_seconds + self.outage_window_seconds + attempts + backoff)


@dataclass
class Runtime:
    store: Store
    specialists: Mapping[str, AnySpecialist]
    pool: SessionPool
    model: Model
    policies: Mapping[str, Policy]
    settings: RuntimeSettings = field(default_factory=RuntimeSettings)
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    stats: RuntimeStats = field(default_factory=RuntimeStats)
    workflows: Mapping[str, Workflow] = field(default_factory=dict)
    """The workflows tenants may name (`policy.workflow`); none given: the built-in ones."""
    metrics: CoordinatorMetrics | None = None
    """Where its handoffs, runs, spend and breakers are counted (`deskhand work --metrics`, the API's /metrics)."""
    versions: WorkflowVersions = field(init=False)
    """The workflow version each run started on (it finishes on it)."""

    def __post_init__(self) -> None:
        check_model_tiers(self.specialists, self.policies)
        manifests = {n: s.manifest for n, s in self.specialists.items()}
        if self.specialists:  # a runtime that runs handoffs (one that only decides approvals needs no workflow)
            if not self.workflows:
                self.workflows = builtin_workflows(manifests)
            check_workflows(self.policies, self.workflows)
        self.versions = WorkflowVersions(self.workflows, manifests, self.store)

    # -- intake ---------------------------------------------------------------------------------

    def submit(self, tenant: str, email: InboundEmail, *, source: str | None = None) -> tuple[str, bool]:
        """Start a run for an inbound email (one run per message, or per `source`); returns (run id, whether new)."""
        if tenant not in self.policies:
            raise NotFound(f"tenant {tenant!r} is not configured here; known: {sorted(self.policies)}")
        policy = self.policies[tenant]
        workflow = self.workflows[policy.workflow]
        return intake(self.store, tenant, email, self.settings, limits=policy.limits, source=source, workflow=workflow)

    def submit_event(
        self, tenant: str, workflow: str, event: BaseModel, *, source: str | None = None
    ) -> tuple[str, bool]:
        """Start a run of the named workflow for an event of the kind it starts from (an account review, say);
        the run goes through that workflow whatever its tenant's own is. Returns (run id, whether new)."""
        return intake_event(self.store, self.policies, self.workflows, self.settings, tenant, workflow, event, source)

    # -- one handoff ----------------------------------------------------------------------------

    async def process(self, chain: HandoffChain) -> None:
        """Run the handoff `chain` holds and record its outcome; `chain` then holds the worker's next handoff,
        claimed in the same transaction (the run's own next one may start before that commit is made: see
        `HandoffChain`)."""
        started = time.perf_counter()
        claim, claimed_in = chain.start()
        recorder = Recorder(claim, chain)
        try:
            await self._process(claim, chain, recorder)
        except Abandoned:
            chain.drop()
            logger.info(
                "dropped handoff %s of run %s: the previous one's lease was lost",
                claim.handoff.id,
                claim.handoff.run_id,
            )
        finally:
            self.stats.handoffs += 1
            self.stats.seconds += time.perf_counter() - started + claimed_in
            self.stats.tool_seconds += recorder.tool_seconds
            self.stats.model_seconds += recorder.model_seconds
            if self.metrics is not None:
                self.metrics.handoff(recorder, time.perf_counter() - started, self.breakers)

    async def stored(self, call: Callable[[], T]) -> T:
        """A store call of the per-handoff path, where the store's database runs blocking work
        (`Database.run`: SQLite on the event loop, PostgreSQL in a worker thread). On SQLite its
        transactions take well under a millisecond and a thread hop cost more than that (0.5–0.8 ms a
        handoff, measured); the only other writer in this process is the records thread, whose batches
        take a few ms at most."""
        return await self.store.database.run(call)

    async def _tenant_spend(self, tenant: str) -> float:
        """Today's spend of the tenant, read at most every few seconds (not once per handoff)."""
        spent = self.store.cached_spend(tenant, self.settings.spend_refresh_seconds)
        if spent is None:
            spent = await self.stored(
                lambda: self.store.spend_today(tenant, fresh_within=self.settings.spend_refresh_seconds)
            )
        return spent

    async def _process(self, claim: Claim, chain: HandoffChain, recorder: Recorder) -> None:
        handoff = claim.handoff
        if handoff.attempt > self.settings.max_attempts:  # only a takeover gets here: a retry stops at the limit
            await self._end(
                recorder,
                "escalated",
                "escalated",
                f"{handoff.recipient}: taken over {claim.takeovers} times after its worker stopped "
                f"(attempt {handoff.attempt}, the limit is {self.settings.max_attempts})",
            )
            return
        specialist = self.specialists.get(handoff.recipient)
        policy = self.policies.get(handoff.tenant)
        if specialist is None or policy is None:
            await self._end(
                recorder,
                "failed",
                "failed",
                f"no specialist {handoff.recipient!r}" if specialist is None else "tenant not configured",
            )
            return
        try:
            task = specialist.manifest.input.model_validate(handoff.payload)
        except ValidationError as exc:
            await self._end(recorder, "failed", "failed", f"malformed handoff payload: {exc}")
            return
        run_budget = tenant_budget(handoff.budget, policy.limits.per_run)
        budget = budget_for(run_budget, claim.run_created_at)
        model = RecordingModel(self.model, recorder)
        manifest = tenant_manifest(specialist.manifest, policy)
        daily = policy.limits.daily_spend_usd
        daily = self.settings.tenant_daily_spend_usd if daily is None else daily
        recorder.tier = manifest.model_tier
        try:
            spent = await self._tenant_spend(handoff.tenant)
            if self.metrics is not None:
                self.metrics.spend(handoff.tenant, spent, daily)
            if spent >= daily:
                raise BudgetExhausted(
                    f"tenant {handoff.tenant!r} spent ${spent:.2f} today, its daily limit is ${daily:.2f}",
                    field="daily_spend_usd",
                )
            async with open_toolbox(
                self.pool, self.breakers, handoff, manifest, self.settings.tool_timeout_seconds
            ) as toolbox:
                ctx = SpecialistContext(
                    tenant=handoff.tenant,
                    run_id=handoff.run_id,
                    policy=policy,
                    toolbox=ScopedToolbox(RecordingToolbox(toolbox, recorder), manifest.scopes, budget),
                    model=model,
                    budget=budget,
                    manifest=manifest,
                    step=handoff.step,
                )
                output: BaseModel = await specialist.run(task, ctx)
        except TRANSIENT as exc:
            recorder.error = exc
            await self.pool.drop(handoff.tenant, handoff.recipient)
            problem = f"{exc.code}: {exc.message}"
            if isinstance(exc, ServerUnavailable):
                now = datetime.now(UTC)
                since = claim.outage_since or now
                waited = (now - since).total_seconds()
                window = self.settings.outage_window_seconds
                if waited < window:  # wait the outage out; not an attempt
                    delay = min(
                        max(self.settings.retry_backoff_seconds, waited, exc.retry_after or 0.0),
                        OUTAGE_MAX_DELAY,
                        window - waited,
                    )
                    await chain.release(problem, delay, attempt=False, outage_since=since)
                    return
                reason = (
                    f"{handoff.recipient}: the {exc.server} server was unavailable for {waited:.0f}s "
                    f"(the outage window is {window:g}s): {exc.message}"
                )
            elif handoff.attempt < self.settings.max_attempts:
                delay = self.settings.retry_backoff_seconds * 2 ** (handoff.attempt - 1)
                await chain.release(problem, delay)
                return
            else:
                reason = f"{handoff.recipient}: {exc.code} after {handoff.attempt} attempts: {exc.message}"
            await self._end(recorder, "escalated", "escalated", reason, model.usage, budget.used_tool_calls)
            return
        except DeskhandError as exc:
            recorder.error = exc
            await self._end(
                recorder,
                "escalated",
                "escalated",
                f"{handoff.recipient}: {exc.code}: {exc.message}",
                model.usage,
                budget.used_tool_calls,
            )
            return
        produced = output.model_dump(mode="json")
        results = {**claim.run_result, handoff.recipient: produced}
        workflow = self.workflows.get(self.policies[handoff.tenant].workflow)
        found = self.versions.of(results, workflow) if workflow is not None else "the tenant's workflow is not loaded"
        if isinstance(found, str):
            decision = Decision(None, run_status="escalated", reason=f"{handoff.recipient}: {found}")
        else:
            decision = route(found, handoff.run_id, handoff.recipient, output, results)
        result: dict[str, Any] = {handoff.recipient: produced}
        if decision.loops is not None:
            result.update(loops=decision.loops, revision=decision.revision)
        nxt: list[Handoff] = []
        if decision.recipient is not None and decision.payload is not None:
            left = budget_left(run_budget, budget)
            nxt.append(handoff.next_hop(decision.recipient, decision.payload, left))
        run_status = decision.run_status if decision.recipient is None else None
        reason = decision.reason
        approvals: list[ApprovalRow] = []
        try:
            for proposed in decision.approvals:
                approvals.append(
                    propose(handoff, proposed.tool, proposed.arguments, proposed.reason, self.settings.approval_ttl)
                )
        except InvalidArgument as exc:  # a call no person should be asked to approve: escalate now, with why
            recorder.error = exc
            approvals, nxt, run_status = [], [], "escalated"
            reason = f"{handoff.recipient}: {exc.message}"
            audit = [audit_entry(handoff, "proposal refused", reason, tool=proposed.tool)]
        else:
            audit = [audit_entry(handoff, f"routed to {decision.recipient or decision.run_status}", decision.reason)]
            audit += [
                audit_entry(handoff, "parked for approval", a.id, tool=a.tool, hashed=a.args_hash) for a in approvals
            ]
        recorder.add("output", type(output).__name__, {}, produced)
        await recorder.record(
            Outcome(
                handoff,
                chain.worker,
                state="done",
                next_handoffs=nxt,
                run_status=run_status,
                result=result,
                reason=reason,
                usage=[(handoff.recipient, u) for u in model.usage],
                tool_calls=budget.used_tool_calls,
                approvals=approvals,
                audit=audit,
                exchanges=recorder.rows,
            )
        )

    async def _end(
        self,
        recorder: Recorder,
        state: HandoffState,
        status: RunStatus,
        reason: str,
        usage: list[Usage] | None = None,
        tool_calls: int = 0,
    ) -> None:
        handoff = recorder.handoff
        await recorder.record(
            Outcome(
                handoff,
                recorder.chain.worker,
                state=state,
                run_status=status,
                reason=reason,
                usage=[(handoff.recipient, u) for u in usage or []],
                tool_calls=tool_calls,
                audit=[audit_entry(handoff, f"run {status}", reason)],
                exchanges=recorder.rows,
                error=reason,
            )
        )

    # -- approvals ------------------------------------------------------------------------------

    async def decide(
        self,
        approval_id: str,
        *,
        tenant: str,
        actor: str,
        approve: bool,
        seen_hash: str,
        connect_tool: Connect,
    ) -> ApprovalRow:
        """Approve or reject a parked call, and make the approved call (see `runtime._approvals.decide`)."""
        return await decide(
            self.store,
            approval_id,
            tenant=tenant,
            actor=actor,
            approve=approve,
            seen_hash=seen_hash,
            connect_tool=connect_tool,
            settled=self.metrics.run_settled if self.metrics is not None else None,
        )

    def expire_approvals(self) -> int:
        """Escalate runs whose approvals timed out; returns how many approvals expired."""
        return expire_approvals(self.store, self.metrics.run_settled if self.metrics is not None else None)
