"""`deskhand runs list|show`: what became of each email, read from the coordinator store (nothing is run)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from coordinator.cli._context import DbOption, globals_of, id_table, noun, out, print_json
from coordinator.store import Store
from coordinator.views import describe, parse_since, short, summary

app = noun("What became of each run: its steps, calls, cost, result, approvals and audit trail.")

TenantOption = Annotated[
    str | None, typer.Option("--tenant", metavar="T", help="Only this tenant's runs.", show_default=False)
]
RunId = Annotated[str, typer.Argument(metavar="RUN", help="The run (R-...).")]


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
    try:
        after = parse_since(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    store = Store(db or options.home().coordinator_db)
    try:
        rows = store.runs(tenant=tenant, status=status, since=after, newest_first=True, limit=limit)
    finally:
        store.dispose()
    summaries = [summary(r) for r in rows]
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
            short(s["reason"], 40),
        )
    out.print(table)


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


def _offset(seconds: float | None) -> str:
    """When something started, from the run's start."""
    return ("-" if seconds is None else f"+{seconds:.3f}s").rjust(9)


def _took(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f}ms" if seconds < 1 else f"{seconds:.2f}s"


def _text(shown: dict[str, Any]) -> str:
    run, usage = shown["run"], shown["usage"]
    workflow = run["workflow"] or {}
    lines = [
        f"run {run['id']} ({run['status']}) tenant {run['tenant']}",
        f"workflow: {workflow.get('name', '-')} {workflow.get('version', '')}".rstrip(),
        f"trace: {run['trace_id'] or '-'}",
        f"created: {run['created']}  finished: {run['finished'] or '-'}",
    ]
    if run["reason"]:
        lines.append(f"reason: {run['reason']}")
    lines.append("timeline (from the run's start):")
    for h in shown["timeline"]:
        error = f" error: {h['error']}" if h["error"] else ""
        waited = f", waited {_took(h['waited_s'])}" if h["waited_s"] else ""
        lines.append(
            f"  {_offset(h['offset_s'])}  {h['step']}. {h['specialist']} {h['state']}, attempt {h['attempt']}, "
            f"took {_took(h['duration_s'])}{waited}{error}"
        )
        for e in h["calls"]:
            flag = " (error)" if e["error"] else ""
            # a call's hash is for matching by eye (JSON has it whole); an approval's is named in a decision: whole
            lines.append(
                f"  {_offset(e['offset_s'])}      {e['kind']} {e['name']} {e['args_hash'][:12]} "
                f"{_took(e['duration_s'])}{flag} → {e['result']}"
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
