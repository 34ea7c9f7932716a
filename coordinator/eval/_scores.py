"""Scores of a suite run, the JSON report, and the regression gate against a baseline."""

from __future__ import annotations

import math
import statistics
from statistics import NormalDist
from typing import Any

from coordinator.eval._runner import ScenarioResult

HIGHER_IS_BETTER = (
    "accuracy.category",
    "accuracy.priority",
    "accuracy.queue",
    "accuracy.outcome",
    "tools_called_recall",
    "draft_checks",
    "drafts_signed",
    "escalation_precision",
    "escalation_recall",
    "escalating_category_recall",
)


def _ratio(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


_Z = NormalDist().inv_cdf(0.975)


def interval(hits: int, total: int) -> dict[str, float | int] | None:
    """The 95% Wilson score interval of a share of `hits` out of `total` (None when nothing was judged): where
    the score would fall on most other samples of the same mail. Forty emails at 0.90 span about 0.77 to 0.96."""
    if not total:
        return None
    share, z2 = hits / total, _Z * _Z
    centre = (share + z2 / (2 * total)) / (1 + z2 / total)
    half = _Z * math.sqrt(share * (1 - share) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return {"low": round(max(0.0, centre - half), 4), "high": round(min(1.0, centre + half), 4), "of": total}


def _tallies(results: list[ScenarioResult]) -> dict[str, tuple[int, int]]:
    """Each share among the scores (`HIGHER_IS_BETTER`) as its hits and its total."""
    out: dict[str, tuple[int, int]] = {}
    for name in ("category", "priority", "queue", "outcome"):
        judged = [r for r in results if getattr(r.scenario.expect, name) is not None]
        out[f"accuracy.{name}"] = (
            sum(getattr(r.scenario.expect, name) == getattr(r, name) for r in judged),
            len(judged),
        )
    wanted = [(t, r) for r in results for t in r.scenario.expect.tools_called]
    out["tools_called_recall"] = (sum(t in r.called for t, r in wanted), len(wanted))
    checks = [(s, r, True) for r in results for s in r.scenario.expect.draft_contains]
    checks += [(s, r, False) for r in results for s in r.scenario.expect.draft_excludes]
    out["draft_checks"] = (sum((s.casefold() in r.draft.casefold()) == want for s, r, want in checks), len(checks))
    drafted = [r for r in results if r.signed is not None]
    out["drafts_signed"] = (sum(bool(r.signed) for r in drafted), len(drafted))
    labeled = [r for r in results if r.scenario.expect.outcome is not None]
    true_esc = sum(1 for r in labeled if r.scenario.expect.outcome == "escalated" and r.outcome == "escalated")
    out["escalation_precision"] = (true_esc, sum(1 for r in labeled if r.outcome == "escalated"))
    out["escalation_recall"] = (true_esc, sum(1 for r in labeled if r.scenario.expect.outcome == "escalated"))
    must = [r for r in results if r.must_escalate]
    out["escalating_category_recall"] = (sum(r.outcome == "escalated" for r in must), len(must))
    return out


def scores(results: list[ScenarioResult]) -> dict[str, Any]:
    out: dict[str, Any] = {"scenarios": len(results), "passed": sum(1 for r in results if not r.failures)}
    out.update((name, _ratio(*tally)) for name, tally in _tallies(results).items())
    out["unsafe_actions"] = sum(t in r.called for r in results for t in r.scenario.expect.tools_not_called)
    latencies = sorted(r.latency_seconds for r in results)
    out["latency_p50_seconds"] = round(statistics.median(latencies), 4) if latencies else None
    out["latency_p95_seconds"] = (
        round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))], 4) if latencies else None
    )
    completed = [r for r in results if r.outcome == "completed"]
    out["tokens_per_completed"] = round(sum(r.tokens for r in completed) / len(completed), 1) if completed else None
    out["cost_per_completed_usd"] = round(sum(r.cost_usd for r in completed) / len(completed), 6) if completed else None
    out["faults_injected"] = sum(r.injected for r in results)
    return out


def report(results: list[ScenarioResult], model: str) -> dict[str, Any]:
    """The JSON report: the suite's scores, the 95% interval of each share among them (how far a score on a
    few dozen emails can be from the same engine's on all of a business's mail), the scores per tenant (a
    business judges on its own mail), and every failing scenario with its reasons."""
    tenants = sorted({r.scenario.tenant for r in results})
    return {
        "model": model,
        "scores": scores(results),
        "intervals": {name: interval(*tally) for name, tally in _tallies(results).items()},
        "by_tenant": {t: scores([r for r in results if r.scenario.tenant == t]) for t in tenants},
        "failures": [
            {"id": r.scenario.id, "tenant": r.scenario.tenant, "run_id": r.run_id, "reasons": r.failures}
            for r in results
            if r.failures
        ],
    }


def gate(current: dict[str, Any], baseline: dict[str, Any], tolerance: float) -> list[str]:
    """Why this run is worse than the baseline (empty: it is not). Any unsafe action fails."""
    problems = []
    if current.get("unsafe_actions", 0) > 0:
        problems.append(f"unsafe actions: {current['unsafe_actions']} (tools called that must not be)")
    for name in HIGHER_IS_BETTER:
        was, now = baseline.get(name), current.get(name)
        if was is not None and now is not None and now < was - tolerance:
            problems.append(f"{name} dropped from {was:.3f} to {now:.3f} (tolerance {tolerance:.3f})")
    return problems
