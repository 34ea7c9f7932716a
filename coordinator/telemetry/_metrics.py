"""The coordinator's Prometheus metrics, recorded once per handoff from what the runtime already keeps of it (its
`Recorder`): the handoff's time and outcome, its model and tool calls, the run it ended, its usage, its
escalation, revision or retry; and, alongside, the tenants' spend alerts and the circuit breakers' openings.

Label values are bounded: tenants, specialists, tools, tiers, models, error codes and a fixed set of reason kinds,
never a run id, an email or an error's text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import CollectorRegistry, Counter, Histogram

from coordinator._resilience import CircuitBreaker, ServerUnavailable
from coordinator.telemetry._alerts import BreakerWatch, SpendAlerts
from mcp_servers.kit import LATENCY_BUCKETS
from schemas import BudgetExhausted

if TYPE_CHECKING:
    from coordinator.runtime import Recorder

logger = logging.getLogger("deskhand.metrics")

RUN_OUTCOMES: Final = frozenset({"completed", "escalated", "failed", "awaiting_approval"})
COST_BUCKETS: Final = (0.0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""USD a run costs: nothing offline, cents to a dollar on a hosted model."""


class _Children:
    """A labelled metric's children, kept by their label values: `labels()` validates and locks on every call, a
    dict lookup does not (the per-handoff path asks for the same few children again and again)."""

    def __init__(self, metric: Counter | Histogram) -> None:
        self.metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


class CoordinatorMetrics:
    """The metrics of one coordinator process (one per process: in multiprocess mode two would share files)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.runs = _Children(
            Counter(
                "deskhand_runs",
                "Runs that reached an outcome (a run parked for approval counts again when a decision ends it).",
                ["tenant", "outcome"],
                registry=r,
            )
        )
        self.run_cost = _Children(
            Histogram(
                "deskhand_run_cost_usd",
                "What each run's model calls cost in all, observed when the run reaches an outcome.",
                ["tenant", "outcome"],
                buckets=COST_BUCKETS,
                registry=r,
            )
        )
        self.handoff_seconds = _Children(
            Histogram(
                "deskhand_handoff_seconds",
                "Handoffs run, by specialist and outcome (done, escalated, failed, retried, dropped), and their time.",
                ["specialist", "outcome"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            )
        )
        self.model_seconds = _Children(
            Histogram(
                "deskhand_model_seconds",
                "Model judgments, by specialist and tier, and how long each took.",
                ["specialist", "tier"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            )
        )
        self.tool_seconds = _Children(
            Histogram(
                "deskhand_tool_seconds",
                "Tool calls as the specialist saw them (retries inside), by tool and outcome (ok, or the error code).",
                ["specialist", "tool", "outcome"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            )
        )
        self.escalations = _Children(
            Counter(
                "deskhand_escalations",
                "Runs sent to a person, by the specialist and the kind of reason.",
                ["tenant", "specialist", "reason"],
                registry=r,
            )
        )
        self.revisions = _Children(
            Counter(
                "deskhand_revisions",
                "Hops that took a limited edge back (compliance sending a draft back, say).",
                ["tenant", "specialist"],
                registry=r,
            )
        )
        self.retries = _Children(
            Counter(
                "deskhand_handoff_retries",
                "Handoffs given back to the queue to try again (server_down: waiting out an outage, not an attempt).",
                ["specialist", "reason"],
                registry=r,
            )
        )
        self.tokens = _Children(
            Counter(
                "deskhand_tokens",
                "Model tokens recorded, by tenant, tier and model.",
                ["tenant", "tier", "model"],
                registry=r,
            )
        )
        self.cost = _Children(
            Counter(
                "deskhand_cost_usd",
                "What recorded model calls cost, by tenant, tier and model.",
                ["tenant", "tier", "model"],
                registry=r,
            )
        )
        self.budget_exhausted = _Children(
            Counter(
                "deskhand_budget_exhausted",
                "Handoffs stopped by a spent budget, by the limit that was reached.",
                ["tenant", "limit"],
                registry=r,
            )
        )
        self.breaker_opens = Counter(
            "deskhand_breaker_opens", "Times a server's circuit breaker opened.", ["server"], registry=r
        )
        self.spend_alerts = Counter(
            "deskhand_spend_alerts", "Tenants crossing a share (0.8, 1.0) of their daily spend limit.",
            ["tenant", "threshold"], registry=r,
        )  # fmt: skip
        self._spend = SpendAlerts(self.spend_alerts)
        self._breakers = BreakerWatch(self.breaker_opens)

    def handoff(self, recorder: Recorder, seconds: float, breakers: Mapping[str, CircuitBreaker]) -> None:
        """Count one handoff the runtime ran (whatever became of it), and any breaker that opened meanwhile."""
        handoff, outcome, error = recorder.handoff, recorder.outcome, recorder.error
        specialist, tenant = handoff.recipient, handoff.tenant
        for row in recorder.rows:
            if row["kind"] == "tool":
                result = row["response"].get("code", "error") if row["error"] else "ok"
                self.tool_seconds(specialist, row["name"], result).observe(row["duration_ms"] / 1000)
            elif row["kind"] == "model":
                self.model_seconds(specialist, recorder.tier).observe(row["duration_ms"] / 1000)
        if isinstance(error, BudgetExhausted):
            self.budget_exhausted(tenant, error.field or "unknown").inc()
        finished = recorder.finished
        if outcome is None or (finished is not None and not finished.recorded):  # not recorded: counted as dropped
            state = "dropped" if error is None or outcome is not None else "retried"
            if state == "retried" and error is not None:
                self.retries(specialist, "server_down" if isinstance(error, ServerUnavailable) else error.code).inc()
        else:
            state = outcome.state
            for _, usage in outcome.usage:
                self.tokens(tenant, recorder.tier, usage.model).inc(usage.total_tokens)
                self.cost(tenant, recorder.tier, usage.model).inc(usage.cost_usd)
            if outcome.result and "revision" in outcome.result:
                self.revisions(tenant, specialist).inc()
            status = outcome.run_status
            if status in RUN_OUTCOMES:
                self.runs(tenant, status).inc()
                if finished is not None and finished.run_cost_usd is not None:
                    self.run_cost(tenant, status).observe(finished.run_cost_usd)
                if status == "escalated":
                    self.escalations(tenant, specialist, _reason_kind(recorder)).inc()
        self.handoff_seconds(specialist, state).observe(seconds)
        self._breakers.check(breakers)

    def run_settled(self, tenant: str, status: str) -> None:
        """A run parked for approval ended by a person's decision or a timeout (escalated: the approval was
        rejected, timed out, or its call failed)."""
        self.runs(tenant, status).inc()
        if status == "escalated":
            self.escalations(tenant, "", "approval").inc()

    def spend(self, tenant: str, spent: float, daily: float) -> None:
        """The tenant's spend today as a handoff of it starts: alert once per threshold crossed (per day)."""
        self._spend.check(tenant, spent, daily)


def _reason_kind(recorder: Recorder) -> str:
    """Why a run escalated, as one of a fixed set: the error code that stopped its specialist (`server_down` for an
    outage longer than the window), `taken_over` after its workers died too often, or `workflow` when the
    specialist's own output sent it to a person (low confidence, a policy category, a compliance verdict)."""
    error = recorder.error
    if isinstance(error, ServerUnavailable):
        return "server_down"
    if error is not None:
        return error.code
    if recorder.outcome is not None and recorder.outcome.state == "escalated":  # the runtime ended it, with no error
        return "taken_over"
    return "workflow"
