"""`deskhand prune`: what a home keeps past a retention window, removed: finished runs' exchanges and the
coordinator's audit, and each server's audit and idempotency records. Runs in flight are never touched, and an
idempotency record a retry could still need is kept whatever the window: only those older than the
coordinator's retry window and than the oldest run in flight go."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from coordinator.runtime import RuntimeSettings
from coordinator.store import Store
from mcp_servers.kit import Database, prune_records


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed (or, with `dry_run`, would remove), by database and table."""

    dry_run: bool
    before: datetime
    """Audit entries and finished runs' exchanges older than this go."""
    idempotency_before: datetime
    """Idempotency records older than this go (never later than `before`)."""
    runs_in_flight: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


def prune(
    store: Store,
    servers: Mapping[str, str],
    older_than: timedelta,
    *,
    actor: str,
    dry_run: bool = False,
    settings: RuntimeSettings | None = None,
) -> PruneReport:
    """Prune `store` and the servers' databases (`servers`: name → URL) of what is older than `older_than`."""
    at = datetime.now(UTC)
    before = at - older_than
    in_flight = store.in_flight()
    window = (settings or RuntimeSettings()).retry_window
    idempotency_before = min(before, at - window, *([in_flight.oldest] if in_flight.oldest else []))
    keep = store.in_flight_ids() if in_flight.count else []
    report = PruneReport(dry_run, before, idempotency_before, in_flight.count)
    for name, url in servers.items():
        db = Database(url)
        try:
            pruned = prune_records(
                db,
                audit_before=before,
                idempotency_before=idempotency_before,
                keep_runs=keep,
                actor=actor,
                dry_run=dry_run,
            )
        finally:
            db.dispose()
        report.counts[name] = {"audit_log": pruned.audit_log, "idempotency_record": pruned.idempotency_record}
    record = {"idempotency_before": idempotency_before.isoformat(), **report.counts}
    report.counts["coordinator"] = store.prune(before, actor=actor, dry_run=dry_run, record=record)
    return report
