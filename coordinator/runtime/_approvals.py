"""Approvals: a proposed call checked and parked for a person, the person's decision, the approved call made
exactly once with a token minted for it, the run settled after, and approvals that time out."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import anyio
import httpx2
from mcp.types import RequestParamsMeta
from pydantic import ValidationError

from coordinator._sessions import Connect, exception_leaves, unreachable
from coordinator._tokens import APPROVALS_SUBJECT, Attribution
from coordinator._toolbox import call_tool
from coordinator.store import ApprovalRow, AuditRecord, Store
from coordinator.telemetry import approved_call_span
from schemas import (
    META_IDEMPOTENCY_KEY,
    META_RUN,
    META_TRACEPARENT,
    Conflict,
    DeskhandError,
    Handoff,
    InsufficientScope,
    InvalidArgument,
    NotFound,
    RunStatus,
    ServerName,
    args_hash,
    server_of_scope,
)
from schemas.tools import TOOLS_BY_NAME

APPROVED_CALL_TTL_SECONDS = 120
"""How long the token minted for one approved call lives."""


def propose(handoff: Handoff, tool: str, arguments: dict[str, Any], reason: str, ttl: timedelta) -> ApprovalRow:
    """A parked call. Its arguments are kept as the tool will receive them (validated, with the defaults
    filled in), so the approver sees exactly the call that approval makes, and its hash is the one the
    server's audit and idempotency records carry. Arguments the tool would refuse are `InvalidArgument`
    here, naming the field: no person is asked to approve a call that cannot be made."""
    now = datetime.now(UTC)
    spec = TOOLS_BY_NAME.get(tool)
    if spec is None:
        raise InvalidArgument(f"the proposed call names no known tool: {tool!r}", field="tool")
    try:
        arguments = spec.input.model_validate(arguments).model_dump(mode="json")
    except ValidationError as exc:
        raise _invalid(tool, exc) from exc
    return ApprovalRow(
        id=f"AP-{uuid.uuid4().hex[:12]}",
        run_id=handoff.run_id,
        tenant=handoff.tenant,
        tool=tool,
        arguments=arguments,
        args_hash=args_hash(arguments),
        reason=reason,
        status="pending",
        result={},
        created_at=now,
        expires_at=now + ttl,
    )


async def decide(
    store: Store,
    approval_id: str,
    *,
    tenant: str,
    actor: str,
    approve: bool,
    seen_hash: str,
    connect_tool: Connect,
    settled: Settled | None = None,
) -> ApprovalRow:
    """Approve or reject a parked call, naming the arguments' hash the approver was shown (a decision on
    another hash, or on an approval already decided, is a `Conflict` and changes nothing). Approving runs
    exactly the stored call, once (its idempotency key is the approval's id), if its arguments still have
    the hash they had when proposed; with a token minted for that one call: the tool's scope, the run, and
    the approver as its actor. A call that fails or is refused leaves the approval `failed`, audited, and
    the run escalated with what happened."""
    row = await anyio.to_thread.run_sync(
        lambda: store.decide(approval_id, tenant, approve=approve, actor=actor, seen_hash=seen_hash)
    )
    if row.status != "approved":
        await anyio.to_thread.run_sync(
            lambda: settle_run(store, row.run_id, f"approval {row.status} by {actor}", settled)
        )
        return row
    try:
        result = await _execute(store, row, actor, connect_tool)
    except DeskhandError as exc:
        decision = "approved call refused" if exc.field == "args_hash" else "approved call failed"
        outcome = exc.to_payload().model_dump()
        problem = f"{exc.code}: {exc.message}"
        entry = _approval_audit(row, actor, decision, f"{row.id}: {problem}")
        failed = await anyio.to_thread.run_sync(
            lambda: store.record_approval_result(row.id, outcome, "failed", [entry])
        )
        await anyio.to_thread.run_sync(
            lambda: settle_run(store, row.run_id, f"the approved {row.tool} failed: {problem}", settled)
        )
        return failed
    entry = _approval_audit(row, actor, "approved call executed", row.id)
    executed = await anyio.to_thread.run_sync(lambda: store.record_approval_result(row.id, result, "executed", [entry]))
    await anyio.to_thread.run_sync(lambda: settle_run(store, row.run_id, "", settled))
    return executed


async def _execute(store: Store, row: ApprovalRow, actor: str, connect_tool: Connect) -> dict[str, Any]:
    """Make an approved call; its structured result, or the `DeskhandError` that stopped it."""
    spec = TOOLS_BY_NAME.get(row.tool)
    if spec is None:
        raise InvalidArgument(f"no tool {row.tool!r}", field="tool")
    stored = args_hash(row.arguments)
    if stored != row.args_hash:  # changed in the store after it was proposed (and shown, and approved)
        raise Conflict(
            f"the stored arguments' hash {stored} is not the approved {row.args_hash}: the call was not made",
            field="args_hash",
        )
    try:
        args = spec.input.model_validate(row.arguments)
    except ValidationError as exc:
        raise _invalid(row.tool, exc) from exc
    trace = (await anyio.to_thread.run_sync(lambda: store.run(row.run_id))).trace
    meta = {META_IDEMPOTENCY_KEY: f"approval-{row.id}", META_RUN: row.run_id}
    if trace:
        meta[META_TRACEPARENT] = trace
    caller = Attribution(APPROVALS_SUBJECT, run=row.run_id, actor=actor, ttl_seconds=APPROVED_CALL_TTL_SECONDS)
    server: ServerName = server_of_scope(spec.scope)
    try:
        with approved_call_span(row.tenant, row.run_id, row.tool, trace):
            async with connect_tool(row.tenant, server, [spec.scope], caller) as client:
                result = await call_tool(client, spec, args, cast(RequestParamsMeta, meta))
    except (OSError, httpx2.TransportError, ExceptionGroup) as exc:
        found = exception_leaves(exc)
        error = next((e for e in found if isinstance(e, DeskhandError)), None)
        if error is not None:  # raised inside the session's task group
            raise error from exc
        raise unreachable(server, exc) from exc
    return result.model_dump(mode="json")


Settled = Callable[[str, RunStatus], None]
"""Told (tenant, status) when a decision or a timeout ends a run (the metrics count it)."""


def settle_run(store: Store, run_id: str, reason: str, settled: Settled | None = None) -> None:
    """After a decision: the run completes when every approval was executed, escalates otherwise."""
    mine = store.approvals(run_id=run_id, status=None)
    if any(a.status in ("pending", "approved") for a in mine):
        return
    status: RunStatus = "completed" if all(a.status == "executed" for a in mine) else "escalated"
    store.set_run(
        run_id, status=status, reason="" if status == "completed" else reason or "an approval was not granted"
    )
    if settled is not None and mine:
        settled(mine[0].tenant, status)


def expire_approvals(store: Store, settled: Settled | None = None) -> int:
    """Escalate runs whose approvals timed out; returns how many approvals expired."""
    now = datetime.now(UTC)
    expired = 0
    for row in store.approvals(status="pending"):
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires < now:
            try:
                store.decide(row.id, row.tenant, approve=False, actor="timeout", seen_hash=None)
            except Conflict:  # a person decided it meanwhile
                continue
            settle_run(store, row.run_id, "approval timed out", settled)
            expired += 1
    return expired


def _approval_audit(row: ApprovalRow, actor: str, decision: str, outcome: str) -> AuditRecord:
    """The coordinator's audit entry about an approved call: the approver, the run, the tool and its hash."""
    return {
        "at": datetime.now(UTC),
        "tenant": row.tenant,
        "run_id": row.run_id,
        "actor": actor,
        "specialist": "",
        "tool": row.tool,
        "args_hash": row.args_hash,
        "decision": decision,
        "outcome": outcome[:500],
    }


def _invalid(tool: str, exc: ValidationError) -> InvalidArgument:
    """The tool's input model refused these arguments: name the first field and what was expected."""
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "(arguments)"
    return InvalidArgument(f"the proposed {tool} is invalid: {where}: {first['msg']}", field=where)


def check_approver(principal: Any, tenant: str) -> None:
    """Only a principal of the approval's tenant with the approver role may decide it."""
    if principal.tenant != tenant:
        raise NotFound("approval not found")  # another tenant's approval behaves like a missing one
    if "approver" not in principal.roles:
        raise InsufficientScope(f"deciding approvals needs the approver role of tenant {tenant!r}", required="approver")
