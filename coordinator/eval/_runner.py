"""Running a suite: each scenario end to end through the coordinator and real MCP servers.

The runtime of a suite has a short per-call timeout (`EVAL_TOOL_TIMEOUT_SECONDS`: the in-memory servers
answer in milliseconds), which a `timeout` fault really waits out, and no outage window: no server comes
back by itself during an evaluation, so a server that does not answer within a call's tries escalates the
run at once instead of being waited for.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from coordinator._registry import load_specialists
from coordinator._sessions import Connect, SessionPool
from coordinator._worker import work
from coordinator.eval._probe import Probe
from coordinator.eval._suite import Scenario, Suite
from coordinator.runtime import Runtime, RuntimeSettings
from coordinator.store import Store
from schemas import InboundEmail
from specialists.kit import Model

EVAL_TOOL_TIMEOUT_SECONDS = 1.0
"""Each tool call's deadline in an evaluation run."""
HOLD_MARGIN_SECONDS = 1.0
"""How much longer than the deadline a `timeout` fault holds its answer when nobody gives up on it."""


@dataclass
class ScenarioResult:
    scenario: Scenario
    run_id: str
    outcome: str
    category: str | None
    priority: str | None
    queue: str | None
    draft: str
    called: list[str]
    latency_seconds: float
    tokens: int
    cost_usd: float
    reason: str
    injected: int
    must_escalate: bool = False
    """Its expected category is one the tenant's policy always escalates (the recall that must be 1.0)."""
    signed: bool | None = None
    """Its draft ends with the tenant's signature, which it holds exactly once; None: the run wrote no draft."""
    failures: list[str] = field(default_factory=list)


def _check(result: ScenarioResult) -> list[str]:
    expect = result.scenario.expect
    failures = []
    for name in ("category", "priority", "queue", "outcome"):
        wanted, got = getattr(expect, name), getattr(result, name)
        if wanted is not None and wanted != got:
            failures.append(
                f"{name}: expected {wanted}, got {got}" + (f" ({result.reason})" if name == "outcome" else "")
            )
    failures += [f"tools_called: {t} was not called" for t in expect.tools_called if t not in result.called]
    failures += [f"UNSAFE tools_not_called: {t} was called" for t in expect.tools_not_called if t in result.called]
    lowered = result.draft.casefold()
    failures += [f"draft_contains: {s!r} is missing" for s in expect.draft_contains if s.casefold() not in lowered]
    failures += [f"draft_excludes: {s!r} is present" for s in expect.draft_excludes if s.casefold() in lowered]
    if result.signed is False:
        failures.append("draft: it does not end with the tenant's signature, once")
    return failures


def signed_once(draft: str, signature: str) -> bool | None:
    """Whether a draft ends with the signature, on lines of its own (or closing its last line: "Thanks, The
    Team"), and holds it on lines of its own no more than that once; case and spacing aside. The signature's words
    inside a sentence ("Thanks for writing to Acme Support.") are not a signature. None for no draft."""
    lines = [" ".join(line.split()).casefold() for line in draft.splitlines() if line.strip()]
    if not lines:
        return None
    own = [" ".join(line.split()).casefold() for line in signature.splitlines() if line.strip()]
    if not own:
        return False
    runs = sum(lines[i : i + len(own)] == own for i in range(len(lines) - len(own) + 1))
    closing = lines[-len(own) :] == own or (len(own) == 1 and runs == 0 and lines[-1].endswith(own[0]))
    return closing and runs <= 1


async def run_suite(
    suite: Suite,
    connect: Connect,
    probe: Probe,
    *,
    store: Store,
    model: Model,
    on_result: Callable[[ScenarioResult], None] = lambda _: None,
    tool_timeout_seconds: float = EVAL_TOOL_TIMEOUT_SECONDS,
) -> list[ScenarioResult]:
    """Run every scenario, one after another (faults belong to one scenario at a time)."""
    settings = RuntimeSettings(
        retry_backoff_seconds=0.01,
        max_attempts=3,
        tool_timeout_seconds=tool_timeout_seconds,
        outage_window_seconds=0.0,
    )
    probe.hold_seconds = tool_timeout_seconds + HOLD_MARGIN_SECONDS
    results: list[ScenarioResult] = []
    async with SessionPool(connect) as pool:
        runtime = Runtime(
            store=store,
            specialists=load_specialists(),
            pool=pool,
            model=model,
            policies=(policies := {t.tenant: t.policy for t in suite.tenants}),
            settings=settings,
        )
        for scenario in suite.scenarios:
            runtime.breakers.clear()
            probe.start(scenario.faults)
            email = InboundEmail(sender=scenario.email.sender, subject=scenario.email.subject, body=scenario.email.body)
            source = f"eval:{scenario.id}:{hashlib.sha256(email.model_dump_json().encode()).hexdigest()[:12]}"
            started = time.perf_counter()
            run_id, _ = runtime.submit(scenario.tenant, email, source=source)
            await work(runtime, concurrency=1, until_idle=True, poll_seconds=0.005)
            run = runtime.store.run(run_id)
            triage = run.result.get("triage", {})
            result = ScenarioResult(
                scenario=scenario,
                run_id=run_id,
                outcome=run.status,
                category=triage.get("classification", {}).get("category"),
                priority=triage.get("priority"),
                queue=triage.get("queue"),
                draft=run.result.get("drafting", {}).get("body", ""),
                called=list(probe.called),
                latency_seconds=time.perf_counter() - started,
                tokens=run.tokens,
                cost_usd=run.cost_usd,
                reason=run.reason,
                injected=probe.injected,
                must_escalate=scenario.expect.category in policies[scenario.tenant].escalate.categories,
            )
            result.signed = signed_once(result.draft, policies[scenario.tenant].drafting.signature)
            result.failures = _check(result)
            results.append(result)
            on_result(result)
    return results
