"""`deskhand db current|upgrade`: the coordinator store's schema version, and its pending migrations applied.

Opening the store applies them too (every process agrees on the schema); these make it explicit, e.g. before
starting many workers on a PostgreSQL store."""

from __future__ import annotations

from typing import Annotated

import typer

from coordinator.cli._context import DbOption, globals_of, noun, out, print_json

app = noun("The coordinator store's schema: its version, and its migrations applied.")


def _url(ctx: typer.Context, db: str | None) -> str:
    return db or globals_of(ctx).home().coordinator_db


@app.command("current")
def current(ctx: typer.Context, db: DbOption = None) -> None:
    """Print the store's schema version and the latest this deskhand knows."""
    from coordinator.store import LATEST, MIGRATIONS, current_version
    from mcp_servers.kit import Database

    database = Database(_url(ctx, db))
    try:
        at = current_version(database.engine)
    finally:
        database.dispose()
    pending = [(v, what) for v, what, _ in MIGRATIONS if at is None or v > at]
    if globals_of(ctx).json:
        print_json({"version": at, "latest": LATEST, "pending": [{"version": v, "what": w} for v, w in pending]})
        return
    out.print(f"schema version {at if at is not None else 'none (an empty store)'}; latest {LATEST}", highlight=False)
    for version, what in pending:
        out.print(f"  pending {version}: {what}", highlight=False)


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    db: DbOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be applied; change nothing.")] = False,
) -> None:
    """Apply the store's pending migrations (each in its own transaction; safe beside running workers)."""
    from coordinator.store import MIGRATIONS, current_version, migrate
    from mcp_servers.kit import Database

    database = Database(_url(ctx, db))
    try:
        before = current_version(database.engine)
        pending = [v for v, _, _ in MIGRATIONS if before is None or v > before]
        after = before if dry_run else migrate(database.engine)
    finally:
        database.dispose()
    if globals_of(ctx).json:
        print_json({"from": before, "to": after, "applied": [] if dry_run else pending, "pending": pending})
        return
    if not pending:
        out.print(f"schema version {before}: up to date", highlight=False)
    elif dry_run:
        out.print(f"schema version {before}: would apply {', '.join(map(str, pending))}", highlight=False)
    else:
        out.print(f"schema version {before} -> {after}: applied {', '.join(map(str, pending))}", highlight=False)
