"""`deskhand prune`: retention. Finished runs' exchanges and the audit past a window go, from the coordinator's
store and the home's server databases; runs in flight and the idempotency records a retry could need stay."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from coordinator.cli._context import DbOption, globals_of, out, print_json
from coordinator.views import parse_duration


def prune(
    ctx: typer.Context,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            metavar="DURATION",
            help="Remove what is older than this: 30d, 12h, 1w, ...",
            show_default=False,
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")] = False,
    db: DbOption = None,
) -> None:
    """Remove records past a retention window: finished runs' exchanges and the coordinator's audit entries,
    and each server's audit rows and idempotency records (these only past the coordinator's retry window and
    the start of the oldest run in flight). Runs in flight are never touched; the prune is itself audited."""
    from coordinator._retention import prune as prune_home
    from coordinator.store import Store

    options = globals_of(ctx)
    try:
        window = parse_duration(older_than)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--older-than") from None
    home = options.home()
    store = Store(db or home.coordinator_db)
    try:
        report = prune_home(
            store,
            {
                **{name: server.db for name, server in home.servers.items()},
                **{f"{t}/{name}": s.db for t, tier in home.pinned.items() for name, s in tier.items()},
            },
            window,
            actor=f"local:{getpass.getuser()}",
            dry_run=dry_run,
        )
    finally:
        store.dispose()
    counts = {"coordinator": report.counts["coordinator"], **report.counts}
    if options.json:
        print_json(
            {
                "dry_run": report.dry_run,
                "before": report.before.isoformat(),
                "idempotency_before": report.idempotency_before.isoformat(),
                "runs_in_flight": report.runs_in_flight,
                "counts": counts,
            }
        )
        return
    verb = "would remove" if dry_run else "removed"
    out.print(
        f"{verb} what is older than {older_than} (before {report.before:%Y-%m-%d %H:%M} UTC; idempotency records "
        f"before {report.idempotency_before:%Y-%m-%d %H:%M} UTC); {report.runs_in_flight} runs in flight kept",
        highlight=False,
        soft_wrap=True,
    )
    for database, tables in counts.items():
        for table, rows in tables.items():
            out.print(f"  {database:<12} {table:<20} {rows:>8}", highlight=False)
