"""The coordinator's store: runs, handoffs with leases, approvals, usage ledger, audit; versioned schema."""

from coordinator.store._migrations import LATEST, MIGRATIONS, current_version, migrate
from coordinator.store._store import Store, args_hash, new_trace
from coordinator.store._tables import ApprovalRow, AuditEntry, ExchangeRow, HandoffRow, RunRow, UsageRow

__all__ = [
    "LATEST",
    "MIGRATIONS",
    "ApprovalRow",
    "AuditEntry",
    "ExchangeRow",
    "HandoffRow",
    "RunRow",
    "Store",
    "UsageRow",
    "args_hash",
    "current_version",
    "migrate",
    "new_trace",
]
