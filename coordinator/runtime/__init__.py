"""The runtime: runs one handoff at a time through its specialist, records it, routes the result, and decides
the calls parked for approval. `Runtime` is the object the worker, the CLI and the evaluation drive."""

from coordinator.runtime._approvals import APPROVED_CALL_TTL_SECONDS, check_approver
from coordinator.runtime._commit import Abandoned, Committing
from coordinator.runtime._runtime import Runtime, RuntimeSettings, RuntimeStats, intake

__all__ = [
    "APPROVED_CALL_TTL_SECONDS",
    "Abandoned",
    "Committing",
    "Runtime",
    "RuntimeSettings",
    "RuntimeStats",
    "check_approver",
    "intake",
]
