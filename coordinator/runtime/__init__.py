"""The runtime: runs one handoff at a time through its specialist, records it, routes the result, and decides
the calls parked for approval. `Runtime` is the object the worker, the CLI and the evaluation drive; a worker's
claim loop holds a `HandoffChain`, the handoffs it runs one after another (each outcome recorded with the next
claim, and committed behind the run's next handoff); its `Recorder` keeps what became of each handoff (for the
metrics)."""

from coordinator.runtime._approvals import APPROVED_CALL_TTL_SECONDS, check_approver
from coordinator.runtime._commit import Abandoned, HandoffChain
from coordinator.runtime._intake import intake
from coordinator.runtime._recording import Recorder, RuntimeStats
from coordinator.runtime._runtime import Runtime, RuntimeSettings

__all__ = [
    "APPROVED_CALL_TTL_SECONDS",
    "Abandoned",
    "HandoffChain",
    "Recorder",
    "Runtime",
    "RuntimeSettings",
    "RuntimeStats",
    "check_approver",
    "intake",
]
