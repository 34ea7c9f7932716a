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

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import anyio
import httpx2
from anyio.abc import TaskGroup
from mcp.shared.exceptions import MCPError
from mcp.types import RequestParamsMeta
from pydantic import BaseModel, ValidationError

from coordinator._resilience import BreakerToolbox, CircuitBreaker, RetryingToolbox, ServerUnavailable, TimeoutToolbox
from coordinator._router import route
from coordinator._sessions import Connect, SessionPool
from coordinator._tokens import APPROVALS_SUBJECT, Attribution
from coordinator._toolbox import error_of_jsonrpc, typed_result
from coordinator.store import (
    ApprovalRow,
    AuditRecord,
    Claim,
    ExchangeRecord,
    Finished,
    Outcome,
    Store,
)
from schemas import (
    META_IDEMPOTENCY_KEY,
    META_RUN,
    META_TRACEPARENT,
    BudgetExhausted,
    Conflict,
    DeskhandError,
    Handoff,
    HandoffState,
    InboundEmail,
    InsufficientScope,
    InvalidArgument,
    NotFound,
    Policy,
    RateLimited,
    RunBudget,
    RunStatus,
    ServerName,
    ToolSpec,
    Unavailable,
    args_hash,
    server_of_scope,
)
from schemas.tools import TOOLS_BY_NAME
from specialists.kit import Budget, Generation, Judgment, Model, ScopedToolbox, SpecialistContext, Tier, Toolbox, Usage
from specialists.kit._model import In, Out

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
    tenant_daily_spend_usd: float = 50.0
    spend_refresh_seconds: float = 5.0
    """How old the tenant's spend total may be when a handoff checks it (this process's own spend is always in it)."""
    tenant_max_running: int = 100
    approval_ttl: timedelta = timedelta(hours=72)


class Committing:
    """A handoff's outcome being committed in a task of its own while its worker goes on with the run's
    next handoff (claimed in that same transaction). The commit runs where the store runs its work: on
    the event loop for SQLite (as soon as the next handoff first waits), in a worker thread for
    PostgreSQL. Until it is committed, the next handoff may read and think (tool reads, the model) but
    not act: its writes, and the recording of its own outcome, wait for `committed()`. If the commit
    did not happen (the lease was lost), the next handoff is dropped before it has written anything."""

    def __init__(self) -> None:
        self._done = anyio.Event()
        self._recorded = False
        self._error: BaseException | None = None

    async def run(self, commit: Callable[[], Awaitable[Finished]]) -> None:
        try:
            self._recorded = (await commit()).recorded
        except BaseException as exc:  # noqa: BLE001 - raised where the worker waits for it
            self._error = exc
        finally:
            self._done.set()

    async def committed(self) -> None:
        """Wait for the commit; `Abandoned` if it was not made (another worker holds the handoff now)."""
        await self._done.wait()
        if self._error is not None:
            raise self._error
        if not self._recorded:
            raise Abandoned("the previous handoff's outcome was not recorded (its lease was lost)")


class Abandoned(Exception):
    """A handoff begun before its predecessor's outcome was committed, which then was not: drop it."""


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


class _Recorder:
    """The exchanges of one handoff, in order, for the run's record (replay, promote), and their time."""

    def __init__(self, claim: Claim, then_claim: float | None, behind: Committing | None) -> None:
        self.claim = claim
        self.behind = behind
        """The previous handoff's commit, if it is still being made: nothing is written before it is."""
        self.rows: list[ExchangeRecord] = []
        self.tool_seconds = 0.0
        """Time with at least one tool call in flight (calls made at once count once)."""
        self.model_seconds = 0.0
        self._in_flight = 0
        self._since = 0.0
        self.then_claim = then_claim
        """With a lease: claim the worker's next handoff in the transaction that records this one."""
        self.next: Claim | None = None
        self.committing: Committing | None = None
        """This handoff's own commit, when it is made behind the next handoff."""

    @property
    def handoff(self) -> Handoff:
        return self.claim.handoff

    def add(self, kind: str, name: str, request: Any, response: Any, *, error: bool = False) -> int:
        """Record an exchange (a tool call's response may be filled in later with `answer`); its index."""
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
            }
        )
        return len(self.rows) - 1

    def answer(self, index: int, response: Any, *, error: bool = False) -> None:
        self.rows[index]["response"] = response
        self.rows[index]["error"] = error

    async def committed(self) -> None:
        """Before writing anything: the previous handoff's outcome must be committed."""
        if self.behind is not None:
            await self.behind.committed()
            self.behind = None

    def tool_started(self) -> None:
        if self._in_flight == 0:
            self._since = time.perf_counter()
        self._in_flight += 1

    def tool_ended(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self.tool_seconds += time.perf_counter() - self._since


def _content_key(email: InboundEmail) -> str:
    """The run key of an email without a message id: its content's digest (ASCII-escaped, as the keys of
    runs already stored were made, so a resubmitted email still finds its run)."""
    return f"email:{args_hash(email.model_dump(mode='json'), ascii_only=True)[:32]}"


def _audit(handoff: Handoff, decision: str, outcome: str, *, tool: str = "", hashed: str = "") -> AuditRecord:
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


class _RecordingToolbox:
    """Every tool call's arguments and result (or error payload), as the specialist saw them."""

    def __init__(self, inner: Toolbox, recorder: _Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    @property
    def available(self) -> frozenset[str]:
        return self._inner.available

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        # the exchange's place is taken when the call starts: calls made at once are recorded in the
        # order they were made, whatever order they finish in (replay answers them in that order)
        index = self._recorder.add("tool", spec.qualified_name, args.model_dump(mode="json"), {})
        if spec.side_effect != "read":
            await self._recorder.committed()
        self._recorder.tool_started()
        try:
            result = await self._inner.call(spec, args, key=key)
        except DeskhandError as exc:
            self._recorder.answer(index, exc.to_payload().model_dump(), error=True)
            raise
        except BaseException as exc:  # cancelled, or a bug: the record says so instead of showing no answer
            interrupted = Unavailable(f"the call was interrupted ({type(exc).__name__})")
            self._recorder.answer(index, interrupted.to_payload().model_dump(), error=True)
            raise
        finally:
            self._recorder.tool_ended()
        self._recorder.answer(index, result.model_dump(mode="json"))
        return result


class _RecordingModel:
    """The model, with every generation's usage kept for the usage ledger and its exchange recorded."""

    def __init__(self, inner: Model, recorder: _Recorder) -> None:
        self._inner = inner
        self._recorder = recorder
        self.usage: list[Usage] = []

    @property
    def name(self) -> str:
        return self._inner.name

    async def judge(
        self, judgment: Judgment[In, Out], value: In, *, policy: Policy, tier: Tier, time_left: float | None = None
    ) -> Generation[Out]:
        started = time.perf_counter()
        generation = await self._inner.judge(judgment, value, policy=policy, tier=tier, time_left=time_left)
        self._recorder.model_seconds += time.perf_counter() - started
        self.usage.append(generation.usage)
        self._recorder.add(
            "model", judgment.name, value.model_dump(mode="json"), generation.output.model_dump(mode="json")
        )
        return generation


@dataclass
class Runtime:
    store: Store
    specialists: Mapping[str, Any]
    pool: SessionPool
    model: Model
    policies: Mapping[str, Policy]
    settings: RuntimeSettings = field(default_factory=RuntimeSettings)
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    stats: RuntimeStats = field(default_factory=RuntimeStats)

    # -- intake ---------------------------------------------------------------------------------

    def submit(self, tenant: str, email: InboundEmail, *, source: str | None = None) -> tuple[str, bool]:
        """Start a run for an inbound email (one run per message, or per `source`); returns (run id, whether new)."""
        if tenant not in self.policies:
            raise NotFound(f"tenant {tenant!r} is not configured here; known: {sorted(self.policies)}")
        if self.store.running_runs(tenant) >= self.settings.tenant_max_running:
            raise BudgetExhausted(f"tenant {tenant!r} already has {self.settings.tenant_max_running} runs in flight")
        source = source or email.message_id or _content_key(email)
        return self.store.start_run(tenant, source, email.model_dump(mode="json"), "triage", self.settings.run_budget)

    # -- one handoff ----------------------------------------------------------------------------

    async def process(
        self,
        claim: Claim,
        worker: str,
        *,
        claimed_in: float = 0.0,
        claim_next: bool = False,
        behind: Committing | None = None,
        background: TaskGroup | None = None,
    ) -> tuple[Claim | None, Committing | None]:
        """Run a claimed handoff and record its outcome (`claimed_in`: the seconds the claim took, for the
        stats). With `claim_next`, the worker's next handoff is claimed in the same transaction and returned.

        With `background`, when the run goes on to a next handoff, this one's outcome is committed in a
        task there and returned with the next claim, for that claim's `process(behind=...)`: the next
        handoff starts at once and waits for the commit only before it writes. `behind`: the commit of
        the handoff this claim follows, if it is still being made."""
        started = time.perf_counter()
        recorder = _Recorder(claim, self.settings.lease_seconds if claim_next else None, behind)
        try:
            await self._process(claim, worker, recorder, background)
            return recorder.next, recorder.committing
        except Abandoned:
            logger.info(
                "dropped handoff %s of run %s: the previous one's lease was lost",
                claim.handoff.id,
                claim.handoff.run_id,
            )
            return None, None
        finally:
            self.stats.handoffs += 1
            self.stats.seconds += time.perf_counter() - started + claimed_in
            self.stats.tool_seconds += recorder.tool_seconds
            self.stats.model_seconds += recorder.model_seconds

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

    async def _process(self, claim: Claim, worker: str, recorder: _Recorder, background: TaskGroup | None) -> None:
        handoff = claim.handoff
        if handoff.attempt > self.settings.max_attempts:  # only a takeover gets here: a retry stops at the limit
            await self._end(
                recorder,
                worker,
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
                worker,
                "failed",
                "failed",
                f"no specialist {handoff.recipient!r}" if specialist is None else "tenant not configured",
            )
            return
        try:
            task = specialist.manifest.input.model_validate(handoff.payload)
        except ValidationError as exc:
            await self._end(recorder, worker, "failed", "failed", f"malformed handoff payload: {exc}")
            return
        budget = self._budget(handoff.budget, claim.run_created_at)
        model = _RecordingModel(self.model, recorder)
        try:
            spent = await self._tenant_spend(handoff.tenant)
            if spent >= self.settings.tenant_daily_spend_usd:
                raise BudgetExhausted(
                    f"tenant {handoff.tenant!r} spent ${spent:.2f} today, "
                    f"its daily limit is ${self.settings.tenant_daily_spend_usd:.2f}"
                )
            async with self._toolbox(handoff, specialist.manifest) as toolbox:
                ctx = SpecialistContext(
                    tenant=handoff.tenant,
                    run_id=handoff.run_id,
                    policy=policy,
                    toolbox=ScopedToolbox(_RecordingToolbox(toolbox, recorder), specialist.manifest.scopes, budget),
                    model=model,
                    budget=budget,
                    manifest=specialist.manifest,
                    step=handoff.step,
                )
                output: BaseModel = await specialist.run(task, ctx)
        except TRANSIENT as exc:
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
                    await recorder.committed()
                    await self.stored(
                        lambda: self.store.release(handoff, worker, problem, delay, attempt=False, outage_since=since)
                    )
                    return
                reason = (
                    f"{handoff.recipient}: the {exc.server} server was unavailable for {waited:.0f}s "
                    f"(the outage window is {window:g}s): {exc.message}"
                )
            elif handoff.attempt < self.settings.max_attempts:
                delay = self.settings.retry_backoff_seconds * 2 ** (handoff.attempt - 1)
                await recorder.committed()
                await self.stored(lambda: self.store.release(handoff, worker, problem, delay))
                return
            else:
                reason = f"{handoff.recipient}: {exc.code} after {handoff.attempt} attempts: {exc.message}"
            await self._end(recorder, worker, "escalated", "escalated", reason, model.usage, budget.used_tool_calls)
            return
        except DeskhandError as exc:
            await self._end(
                recorder,
                worker,
                "escalated",
                "escalated",
                f"{handoff.recipient}: {exc.code}: {exc.message}",
                model.usage,
                budget.used_tool_calls,
            )
            return
        produced = output.model_dump(mode="json")
        results = {**claim.run_result, handoff.recipient: produced}
        decision = route(handoff.run_id, handoff.recipient, output, results)
        result: dict[str, Any] = {handoff.recipient: produced}
        nxt: list[Handoff] = []
        if decision.recipient is not None and decision.payload is not None:
            revision = getattr(decision.payload, "revision", None)
            if decision.recipient == "drafting" and revision:
                result["revision"] = revision
            left = self._left(handoff.budget, budget)
            nxt.append(handoff.next_hop(decision.recipient, decision.payload, left))
        run_status = decision.run_status if decision.recipient is None else None
        reason = decision.reason
        approvals: list[ApprovalRow] = []
        try:
            for proposed in decision.approvals:
                approvals.append(self._approval(handoff, proposed.tool, proposed.arguments, proposed.reason))
        except InvalidArgument as exc:  # a call no person should be asked to approve: escalate now, with why
            approvals, nxt, run_status = [], [], "escalated"
            reason = f"{handoff.recipient}: {exc.message}"
            audit = [_audit(handoff, "proposal refused", reason, tool=proposed.tool)]
        else:
            audit = [_audit(handoff, f"routed to {decision.recipient or decision.run_status}", decision.reason)]
            audit += [_audit(handoff, "parked for approval", a.id, tool=a.tool, hashed=a.args_hash) for a in approvals]
        recorder.add("output", type(output).__name__, {}, produced)
        await recorder.committed()

        def finish() -> Finished:
            return self.store.finish(
                Outcome(
                    handoff,
                    worker,
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
                    then_claim=recorder.then_claim,
                    prior=recorder.claim,
                )
            )

        if background is not None and recorder.then_claim is not None and len(nxt) == 1:
            # the run goes on with this worker: commit behind the next handoff instead of before it
            recorder.committing = Committing()
            background.start_soon(recorder.committing.run, lambda: self.stored(finish))
            recorder.next = claim.following(nxt[0], result)
            return
        recorder.next = (await self.stored(finish)).next

    @contextlib.asynccontextmanager
    async def _toolbox(self, handoff: Handoff, manifest: Any) -> AsyncIterator[BreakerToolbox]:
        """The specialist's toolbox for this handoff: pooled sessions, with timeouts, retries and breakers."""
        servers = sorted({server_of_scope(scope) for scope in manifest.scopes})
        for server in servers:
            breaker = self.breakers.setdefault(server, CircuitBreaker())
            if breaker.state == "open":
                with breaker.guard(server):  # fails fast: an open circuit admits nothing
                    pass
        async with contextlib.AsyncExitStack() as stack:
            try:
                pool_toolbox = await stack.enter_async_context(self.pool.session(handoff.tenant, manifest))
            except Unavailable as exc:
                if exc.field in self.breakers:  # could not even connect: that counts as a failed call
                    with contextlib.suppress(Unavailable), self.breakers[exc.field].guard(exc.field):
                        raise
                    raise ServerUnavailable(exc.message, server=exc.field, retry_after=exc.retry_after) from exc
                raise
            mcp = pool_toolbox.for_run(handoff.trace, handoff.run_id)
            yield BreakerToolbox(
                RetryingToolbox(TimeoutToolbox(mcp, self.settings.tool_timeout_seconds)), self.breakers
            )

    def _budget(self, budget: RunBudget, run_created_at: datetime) -> Budget:
        elapsed = (datetime.now(UTC) - run_created_at).total_seconds()
        return Budget(
            tokens=budget.tokens,
            cost_usd=budget.cost_usd,
            tool_calls=budget.tool_calls,
            iterations=budget.iterations,
            wall_seconds=max(0.0, budget.wall_seconds - elapsed),
        )

    @staticmethod
    def _left(budget: RunBudget, used: Budget) -> RunBudget:
        return RunBudget(
            tokens=max(0, budget.tokens - used.used_tokens),
            cost_usd=max(0.0, budget.cost_usd - used.used_cost_usd),
            tool_calls=max(0, budget.tool_calls - used.used_tool_calls),
            iterations=max(0, budget.iterations - used.used_iterations),
            wall_seconds=budget.wall_seconds,
        )

    def _approval(self, handoff: Handoff, tool: str, arguments: dict[str, Any], reason: str) -> ApprovalRow:
        """A parked call. Its arguments are kept as the tool will receive them (validated, with the defaults
        filled in), so the approver sees exactly the call that approval makes, and its hash is the one the
        server's audit and idempotency records carry. Arguments the tool would refuse are `InvalidArgument`
        here, naming the field: no person is asked to approve a call that cannot be made."""
        now = datetime.now(UTC)
        spec = TOOLS_BY_NAME.get(tool)
        if spec is None:
            raise InvalidArgument(f"the proposed call names no known tool: {tool!r}", field="tool")
        try:
            arguments = spec.input.model_validate(arguments).model_dump(mode="json")
        except ValidationError as exc:
            raise _invalid(tool, exc) from exc
        return ApprovalRow(
            id=f"AP-{uuid.uuid4().hex[:12]}",
            run_id=handoff.run_id,
            tenant=handoff.tenant,
            tool=tool,
            arguments=arguments,
            args_hash=args_hash(arguments),
            reason=reason,
            status="pending",
            result={},
            created_at=now,
            expires_at=now + self.settings.approval_ttl,
        )

    async def _end(
        self,
        recorder: _Recorder,
        worker: str,
        state: HandoffState,
        status: RunStatus,
        reason: str,
        usage: list[Usage] | None = None,
        tool_calls: int = 0,
    ) -> None:
        handoff = recorder.handoff
        audit = [_audit(handoff, f"run {status}", reason)]
        await recorder.committed()
        outcome = Outcome(
            handoff,
            worker,
            state=state,
            run_status=status,
            reason=reason,
            usage=[(handoff.recipient, u) for u in usage or []],
            tool_calls=tool_calls,
            audit=audit,
            exchanges=recorder.rows,
            error=reason,
            then_claim=recorder.then_claim,
            prior=recorder.claim,
        )
        finished = await self.stored(lambda: self.store.finish(outcome))
        recorder.next = finished.next

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
        """Approve or reject a parked call, naming the arguments' hash the approver was shown (a decision on
        another hash, or on an approval already decided, is a `Conflict` and changes nothing). Approving runs
        exactly the stored call, once (its idempotency key is the approval's id), if its arguments still have
        the hash they had when proposed; with a token minted for that one call: the tool's scope, the run, and
        the approver as its actor. A call that fails or is refused leaves the approval `failed`, audited, and
        the run escalated with what happened."""
        row = await anyio.to_thread.run_sync(
            lambda: self.store.decide(approval_id, tenant, approve=approve, actor=actor, seen_hash=seen_hash)
        )
        if row.status != "approved":
            await anyio.to_thread.run_sync(lambda: self._settle_run(row.run_id, f"approval {row.status} by {actor}"))
            return row
        try:
            result = await self._execute(row, actor, connect_tool)
        except DeskhandError as exc:
            decision = "approved call refused" if exc.field == "args_hash" else "approved call failed"
            outcome = exc.to_payload().model_dump()
            problem = f"{exc.code}: {exc.message}"
            entry = _approval_audit(row, actor, decision, f"{row.id}: {problem}")
            failed = await anyio.to_thread.run_sync(
                lambda: self.store.record_approval_result(row.id, outcome, "failed", [entry])
            )
            await anyio.to_thread.run_sync(
                lambda: self._settle_run(row.run_id, f"the approved {row.tool} failed: {problem}")
            )
            return failed
        entry = _approval_audit(row, actor, "approved call executed", row.id)
        executed = await anyio.to_thread.run_sync(
            lambda: self.store.record_approval_result(row.id, result, "executed", [entry])
        )
        await anyio.to_thread.run_sync(lambda: self._settle_run(row.run_id, ""))
        return executed

    async def _execute(self, row: ApprovalRow, actor: str, connect_tool: Connect) -> dict[str, Any]:
        """Make an approved call; its structured result, or the `DeskhandError` that stopped it."""
        spec = TOOLS_BY_NAME.get(row.tool)
        if spec is None:
            raise InvalidArgument(f"no tool {row.tool!r}", field="tool")
        stored = args_hash(row.arguments)
        if stored != row.args_hash:  # changed in the store after it was proposed (and shown, and approved)
            raise Conflict(
                f"the stored arguments' hash {stored} is not the approved {row.args_hash}: the call was not made",
                field="args_hash",
            )
        try:
            args = spec.input.model_validate(row.arguments)
        except ValidationError as exc:
            raise _invalid(row.tool, exc) from exc
        trace = (await anyio.to_thread.run_sync(lambda: self.store.run(row.run_id))).trace
        meta = {META_IDEMPOTENCY_KEY: f"approval-{row.id}", META_RUN: row.run_id}
        if trace:
            meta[META_TRACEPARENT] = trace
        caller = Attribution(APPROVALS_SUBJECT, run=row.run_id, actor=actor, ttl_seconds=APPROVED_CALL_TTL_SECONDS)
        server: ServerName = server_of_scope(spec.scope)
        try:
            async with connect_tool(row.tenant, server, [spec.scope], caller) as client:
                result = await client.call_tool(
                    spec.name, args.model_dump(mode="json"), meta=cast(RequestParamsMeta, meta)
                )
        except MCPError as exc:
            raise error_of_jsonrpc(spec, exc) from exc
        except (OSError, httpx2.TransportError, ExceptionGroup) as exc:
            raise Unavailable(f"cannot reach the {server} MCP server: {_first_leaf(exc)}", field=server) from exc
        return typed_result(spec, result).model_dump(mode="json")

    def _settle_run(self, run_id: str, reason: str) -> None:
        """After a decision: the run completes when every approval was executed, escalates otherwise."""
        mine = self.store.approvals(run_id=run_id, status=None)
        if any(a.status in ("pending", "approved") for a in mine):
            return
        if all(a.status == "executed" for a in mine):
            self.store.set_run(run_id, status="completed")
        else:
            self.store.set_run(run_id, status="escalated", reason=reason or "an approval was not granted")

    def expire_approvals(self) -> int:
        """Escalate runs whose approvals timed out; returns how many approvals expired."""
        now = datetime.now(UTC)
        expired = 0
        for row in self.store.approvals(status="pending"):
            expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
            if expires < now:
                try:
                    self.store.decide(row.id, row.tenant, approve=False, actor="timeout", seen_hash=None)
                except Conflict:  # a person decided it meanwhile
                    continue
                self._settle_run(row.run_id, "approval timed out")
                expired += 1
        return expired


APPROVED_CALL_TTL_SECONDS = 120
"""How long the token minted for one approved call lives."""


def _approval_audit(row: ApprovalRow, actor: str, decision: str, outcome: str) -> AuditRecord:
    """The coordinator's audit entry about an approved call: the approver, the run, the tool and its hash."""
    return {
        "at": datetime.now(UTC),
        "tenant": row.tenant,
        "run_id": row.run_id,
        "actor": actor,
        "specialist": "",
        "tool": row.tool,
        "args_hash": row.args_hash,
        "decision": decision,
        "outcome": outcome[:500],
    }


def _invalid(tool: str, exc: ValidationError) -> InvalidArgument:
    """The tool's input model refused these arguments: name the first field and what was expected."""
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "(arguments)"
    return InvalidArgument(f"the proposed {tool} is invalid: {where}: {first['msg']}", field=where)


def _first_leaf(exc: BaseException) -> BaseException:
    """The first exception inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def check_approver(principal: Any, tenant: str) -> None:
    """Only a principal of the approval's tenant with the approver role may decide it."""
    if principal.tenant != tenant:
        raise NotFound("approval not found")  # another tenant's approval behaves like a missing one
    if "approver" not in principal.roles:
        raise InsufficientScope(f"deciding approvals needs the approver role of tenant {tenant!r}", required="approver")
