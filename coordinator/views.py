"""What the store knows of runs, as plain data for people: the rows `deskhand runs`, the HTTP API and the
console show. Read-only; another tenant's run is `not_found`, as everywhere."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from coordinator.store import ApprovalRow, AuditEntry, ExchangeRow, HandoffRow, RunRow, Store
from coordinator.telemetry import trace_id_of
from schemas import args_hash

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str) -> timedelta:
    """A duration: `90s`, `30m`, `2h`, `7d`, `1w`; `ValueError` for anything else."""
    if match := re.fullmatch(r"(\d+)([smhdw])", value.strip()):
        return timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    raise ValueError(f"{value!r} is not a duration (90s, 30m, 2h, 7d, 1w)")


def parse_since(value: str | None) -> datetime | None:
    """A `since` filter: a duration back from now (`90s`, `30m`, `2h`, `7d`, `1w`) or an ISO date or time
    (UTC if no zone); `ValueError` for anything else."""
    if value is None:
        return None
    if re.fullmatch(r"(\d+)([smhdw])", value.strip()):
        return datetime.now(UTC) - parse_duration(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is neither a duration (30m, 2h, 7d) nor an ISO date or time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _iso(moment: datetime | None) -> str | None:
    moment = _aware(moment)
    return None if moment is None else moment.isoformat()


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    start, end = _aware(start), _aware(end)
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _triage(run: RunRow) -> dict[str, Any] | None:
    triage = run.result.get("triage")
    if not isinstance(triage, dict):
        return None
    classification = triage.get("classification") or {}
    return {
        "category": classification.get("category"),
        "confidence": classification.get("confidence"),
        "priority": triage.get("priority"),
        "queue": triage.get("queue"),
        "escalate": triage.get("escalate"),
        "escalation_reasons": triage.get("escalation_reasons", []),
    }


def _workflow(run: RunRow) -> dict[str, Any] | None:
    workflow = run.result.get("workflow")
    return dict(workflow) if isinstance(workflow, dict) else None


def summary(run: RunRow) -> dict[str, Any]:
    """A run as one row of `runs list`."""
    return {
        "id": run.id,
        "tenant": run.tenant,
        "status": run.status,
        "triage": _triage(run),
        "workflow": (_workflow(run) or {}).get("name"),
        "created": _iso(run.created_at),
        "finished": _iso(run.finished_at),
        "duration_s": _seconds(run.created_at, run.finished_at),
        "tokens": run.tokens,
        "cost_usd": run.cost_usd,
        "reason": run.reason,
    }


def _guessed_end(row: HandoffRow, trail: list[AuditEntry]) -> datetime | None:
    """When a handoff recorded before its end was kept finished: the coordinator's routing entry for its
    specialist after it started."""
    start = _aware(row.created_at)
    return next(
        (
            e.at
            for e in trail
            if e.specialist == row.recipient
            and e.decision.startswith("routed")
            and start is not None
            and _aware(e.at) is not None
            and _aware(e.at) >= start  # type: ignore[operator]
        ),
        None,
    )


def _handoff(row: HandoffRow, trail: list[AuditEntry], run_start: datetime | None) -> dict[str, Any]:
    """A handoff: when it was queued, when its latest attempt started and finished, and how long it took."""
    started = row.started_at or row.created_at
    finished = row.finished_at or (None if row.state in ("pending", "claimed") else _guessed_end(row, trail))
    return {
        "id": row.id,
        "step": row.step,
        "specialist": row.recipient,
        "state": row.state,
        "attempt": row.attempt,
        "queued": _iso(row.created_at),
        "started": _iso(started),
        "finished": _iso(finished),
        "offset_s": _seconds(run_start, started),
        "waited_s": _seconds(row.created_at, started),
        "duration_s": _seconds(started, finished),
        "error": row.error,
    }


def _exchange(row: ExchangeRow, run_start: datetime | None) -> dict[str, Any]:
    return {
        "step": row.step,
        "specialist": row.specialist,
        "kind": row.kind,
        "name": row.name,
        "args_hash": args_hash(row.request),
        "result": short(json.dumps(row.response, ensure_ascii=False, default=str), 80),
        "error": row.error,
        "at": _iso(row.at),
        "offset_s": _seconds(run_start, row.at),
        "duration_s": None if row.duration_ms is None else round(row.duration_ms / 1000, 4),
    }


def approval_detail(row: ApprovalRow) -> dict[str, Any]:
    """An approval whole: the exact arguments the call would be made with, their hash, and what came of it."""
    return {
        "id": row.id,
        "status": row.status,
        "run": row.run_id,
        "tenant": row.tenant,
        "tool": row.tool,
        "arguments": row.arguments,
        "args_hash": row.args_hash,
        "arguments_changed": args_hash(row.arguments) != row.args_hash,
        "why": row.reason,
        "expires": _iso(row.expires_at),
        "result": row.result,
    }


def timeline(handoffs: list[dict[str, Any]], exchanges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's steps in the order they started, each with its model judgments and tool calls in the order
    they were made (a store older than these times keeps the order it recorded them in)."""
    calls: dict[int, list[dict[str, Any]]] = {}
    for exchange in exchanges:
        calls.setdefault(exchange["step"], []).append(exchange)
    steps = sorted(handoffs, key=lambda h: (h["offset_s"] is None, h["offset_s"] or 0.0, h["step"]))
    return [{**h, "calls": sorted(calls.get(h["step"], []), key=lambda e: e["offset_s"] or 0.0)} for h in steps]


def _approval(row: ApprovalRow) -> dict[str, Any]:
    return {"id": row.id, "tool": row.tool, "status": row.status, "args_hash": row.args_hash, "why": row.reason}


def _audit(row: AuditEntry) -> dict[str, Any]:
    return {
        "at": _iso(row.at),
        "actor": row.actor,
        "specialist": row.specialist,
        "tool": row.tool,
        "args_hash": row.args_hash,
        "decision": row.decision,
        "outcome": row.outcome,
    }


def _ticket(run: RunRow) -> str | None:
    writer = run.result.get("crm_writer")
    return writer.get("ticket_id") if isinstance(writer, dict) else None


def _draft(run: RunRow) -> dict[str, Any] | None:
    draft = run.result.get("drafting")
    return {"subject": draft.get("subject"), "body": draft.get("body")} if isinstance(draft, dict) else None


def describe(store: Store, run_id: str, tenant: str | None) -> dict[str, Any]:
    """Everything the store knows of one run, in the order it happened (not_found for another tenant's run)."""
    run = store.run(run_id, tenant=tenant)
    trail = store.audit_trail(run.id)
    workflow = _workflow(run)
    handoffs = [_handoff(h, trail, run.created_at) for h in store.handoffs(run.id)]
    exchanges = [_exchange(e, run.created_at) for e in store.exchanges(run.id) if e.kind in ("model", "tool")]
    return {
        "run": {
            "id": run.id,
            "tenant": run.tenant,
            "status": run.status,
            "reason": run.reason,
            "workflow": workflow,
            "trace": run.trace,
            "trace_id": trace_id_of(run.trace),
            "created": _iso(run.created_at),
            "finished": _iso(run.finished_at),
            "duration_s": _seconds(run.created_at, run.finished_at),
        },
        "handoffs": handoffs,
        "exchanges": exchanges,
        "usage": {
            "tokens": run.tokens,
            "cost_usd": run.cost_usd,
            "tool_calls": run.tool_calls,
            "iterations": run.iterations,
        },
        "triage": _triage(run),
        "draft": _draft(run),
        "ticket": _ticket(run),
        "approvals": [_approval(a) for a in store.approvals(run_id=run.id, status=None)],
        "audit": [_audit(a) for a in trail],
        "timeline": timeline(handoffs, exchanges),
    }
