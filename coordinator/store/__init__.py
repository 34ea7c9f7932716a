"""The coordinator's store: runs, handoffs with leases, approvals, usage ledger, audit; versioned schema.

`Store` is the facade callers hold; each concern is a private module of its own (`_queue`, `_runs`, `_spend`,
`_outcome`, `_approvals`, `_records`, `_reports`, `_retention`), sharing the table handles of `_sql`. A new
concern gets its own module and a part in `Store`; a new column or table goes to `_tables` with a migration in
`_migrations`.
"""

from coordinator.store._gauges import Snapshot
from coordinator.store._migrations import LATEST, MIGRATIONS, current_version, migrate
from coordinator.store._outcome import Finished, Outcome
from coordinator.store._queue import Claim
from coordinator.store._reports import DayUsage, FailedCall
from coordinator.store._retention import IN_FLIGHT, PRUNED, InFlight
from coordinator.store._runs import new_trace
from coordinator.store._store import Store
from coordinator.store._tables import (
    ApprovalRow,
    AuditEntry,
    AuditRecord,
    ExchangeRecord,
    ExchangeRow,
    HandoffRow,
    RunRow,
    UsageRow,
)

__all__ = [
    "IN_FLIGHT",
    "LATEST",
    "PRUNED",
    "MIGRATIONS",
    "ApprovalRow",
    "AuditEntry",
    "AuditRecord",
    "Claim",
    "DayUsage",
    "FailedCall",
    "ExchangeRecord",
    "ExchangeRow",
    "Finished",
    "HandoffRow",
    "InFlight",
    "Outcome",
    "RunRow",
    "Snapshot",
    "Store",
    "UsageRow",
    "current_version",
    "migrate",
    "new_trace",
]
