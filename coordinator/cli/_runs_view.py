"""`deskhand runs list|show`: what became of each email, read from the coordinator store (nothing is run)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from coordinator.cli._context import DbOption, globals_of, id_table, noun, out, print_json
from coordinator.store import ApprovalRow, AuditEntry, ExchangeRow, HandoffRow, RunRow, Store
from schemas import args_hash

app = noun("What became of each run: its steps, calls, cost, result, approvals and audit trail.")

TenantOption = Annotated[
    str | None, typer.Option("--tenant", metavar="T", help="Only this tenant's runs.", show_default=False)
]
RunId = Annotated[str, typer.Argument(metavar="RUN", help="The run (R-...).")]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(value: str | None) -> datetime | None:
    """`--since`: a duration back from now (`90s`, `30m`, `2h`, `7d`, `1w`) or an ISO date or time (UTC if no zone)."""
    if value is None:
        return None
    if match := re.fullmatch(r"(\d+)([smhdw])", value.strip()):
        return datetime.now(UTC) - timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither a duration (30m, 2h, 7d) nor an ISO date or time", param_hint="--since"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _iso(moment: datetime | None) -> str | None:
    moment = _aware(moment)
    return None if moment is None else moment.isoformat()


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    start, end = _aware(start), _aware(end)
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def _short(text: str, width: int = 60) -> str:
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


def _summary(run: RunRow) -> dict[str, Any]:
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


@app.command("list")
def list_(
    ctx: typer.Context,
    tenant: TenantOption = None,
    status: Annotated[
        str | None, typer.Option("--status", metavar="S", help="completed, escalated, awaiting_approval, running, ...")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", metavar="DURATION|ISO", help="Created in the last 2h, 7d, ... or since.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many runs.")] = 50,
    db: DbOption = None,
) -> None:
    """The runs, newest first: status, triage, workflow, duration, tokens, cost and why it ended so."""
    options = globals_of(ctx)
    after = parse_since(since)
    store = Store(db or options.home().coordinator_db)
    try:
        rows = store.runs(tenant=tenant, status=status, since=after, newest_first=True, limit=limit)
    finally:
        store.dispose()
    summaries = [_summary(r) for r in rows]
    if options.json:
        print_json(summaries)
        return
    table = id_table(
        f"{len(rows)} run{'' if len(rows) == 1 else 's'}",
        ("id",),
        ("status", "tenant", "created", "took", "tokens", "cost", "triage", "workflow", "reason"),
    )
    table.columns[0].min_width = max((len(r.id) for r in rows), default=2)  # whole at any width, to be copied
    for s in summaries:
        triage = s["triage"]
        table.add_row(
            s["id"],
            s["status"],
            s["tenant"],
            (s["created"] or "")[5:16].replace("T", " "),
            "" if s["duration_s"] is None else f"{s['duration_s']:.2f}s",
            str(s["tokens"]),
            f"${s['cost_usd']:.4f}",
            " ".join(str(triage[k]) for k in ("category", "priority", "queue")) if triage else "",
            s["workflow"] or "",
            _short(s["reason"], 40),
        )
    out.print(table)


def _handoff(row: HandoffRow, trail: list[AuditEntry]) -> dict[str, Any]:
    """A handoff with when it finished: the coordinator's routing entry for its specialist after it started."""
    start = _aware(row.created_at)
    finished = next(
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
    return {
        "id": row.id,
        "step": row.step,
        "specialist": row.recipient,
        "state": row.state,
        "attempt": row.attempt,
        "started": _iso(row.created_at),
        "finished": _iso(finished),
        "duration_s": _seconds(row.created_at, finished),
        "error": row.error,
    }


def _exchange(row: ExchangeRow) -> dict[str, Any]:
    return {
        "step": row.step,
        "specialist": row.specialist,
        "kind": row.kind,
        "name": row.name,
        "args_hash": args_hash(row.request),
        "result": _short(json.dumps(row.response, ensure_ascii=False, default=str), 80),
        "error": row.error,
        "duration_s": None,  # the exchange log keeps no times
    }


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
    return {
        "run": {
            "id": run.id,
            "tenant": run.tenant,
            "status": run.status,
            "reason": run.reason,
            "workflow": workflow,
            "trace": run.trace,
            "created": _iso(run.created_at),
            "finished": _iso(run.finished_at),
            "duration_s": _seconds(run.created_at, run.finished_at),
        },
        "handoffs": [_handoff(h, trail) for h in store.handoffs(run.id)],
        "exchanges": [_exchange(e) for e in store.exchanges(run.id) if e.kind in ("model", "tool")],
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
    }


@app.command("show")
def show(ctx: typer.Context, run_id: RunId, tenant: TenantOption = None, db: DbOption = None) -> None:
    """One run in the order things happened: its steps, model and tool calls, cost, triage, draft, ticket,
    approvals and audit trail."""
    options = globals_of(ctx)
    store = Store(db or options.home().coordinator_db)
    try:
        shown = describe(store, run_id, tenant)
    finally:
        store.dispose()
    if options.json:
        print_json(shown)
        return
    out.print(_text(shown), highlight=False, markup=False, soft_wrap=True)


def _clock(iso: str | None) -> str:
    """A time of the run's day as people read it (the run's created and finished lines give the date)."""
    return "-" if iso is None else iso[11:23]


def _text(shown: dict[str, Any]) -> str:
    run, usage = shown["run"], shown["usage"]
    workflow = run["workflow"] or {}
    lines = [
        f"run {run['id']} ({run['status']}) tenant {run['tenant']}",
        f"workflow: {workflow.get('name', '-')} {workflow.get('version', '')}".rstrip(),
        f"trace: {run['trace']}",
        f"created: {run['created']}  finished: {run['finished'] or '-'}",
    ]
    if run["reason"]:
        lines.append(f"reason: {run['reason']}")
    lines.append("handoffs:")
    for h in shown["handoffs"]:
        took = "" if h["duration_s"] is None else f" {h['duration_s']:.3f}s"
        error = f" error: {h['error']}" if h["error"] else ""
        lines.append(
            f"  {h['step']}. {h['specialist']} {h['state']} attempt {h['attempt']} "
            f"{_clock(h['started'])} → {_clock(h['finished'])}{took}{error}"
        )
    lines.append("calls:")
    for e in shown["exchanges"]:
        flag = " (error)" if e["error"] else ""
        # a call's hash is for matching by eye (JSON has it whole); an approval's is named in a decision: whole
        lines.append(
            f"  {e['step']} {e['specialist']} {e['kind']} {e['name']} {e['args_hash'][:12]}{flag} → {e['result']}"
        )
    lines.append(
        f"usage: {usage['tokens']} tokens, ${usage['cost_usd']:.4f}, "
        f"{usage['tool_calls']} tool calls, {usage['iterations']} iterations"
    )
    if (t := shown["triage"]) is not None:
        lines.append(f"triage: {t['category']} ({t['confidence']}) priority {t['priority']} queue {t['queue']}")
    if (d := shown["draft"]) is not None:
        lines.append(f"draft: {d['subject']}")
        lines.extend(f"  {line}" for line in (d["body"] or "").splitlines())
    if shown["ticket"]:
        lines.append(f"ticket: {shown['ticket']}")
    if shown["approvals"]:
        lines.append("approvals:")
        lines.extend(f"  {a['id']} {a['tool']} {a['status']} {a['args_hash']}" for a in shown["approvals"])
    lines.append("audit:")
    for a in shown["audit"]:
        what = " ".join(x for x in (a["specialist"], a["tool"], a["args_hash"]) if x)
        lines.append(f"  {_clock(a['at'])} {a['actor']} {what} {a['decision']} {a['outcome']}".rstrip())
    return "\n".join(lines)
