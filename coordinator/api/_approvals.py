"""Approvals: the calls parked for a person, with their exact arguments and hash, approved or rejected by an
approver naming the hash they were shown (the approved call is made then, once, as `deskhand approvals approve`
makes it)."""

from __future__ import annotations

import anyio

from coordinator import views
from coordinator.api._auth import Caller
from coordinator.api._endpoints import Api, Call
from coordinator.api._models import Approval, ApprovalList, ApprovalsQuery, Decision, NoBody, NoQuery
from coordinator.store import ApprovalRow
from schemas import NotFound


def approval_of(row: ApprovalRow) -> Approval:
    return Approval.model_validate(views.approval_detail(row))


async def list_approvals(call: Call[ApprovalsQuery, NoBody]) -> ApprovalList:
    """Approvals in a status (pending by default): a tenant-bound caller's own only."""
    query, caller = call.query, call.caller
    if query.tenant is not None and not caller.sees(query.tenant):
        return ApprovalList(approvals=[])
    rows = await anyio.to_thread.run_sync(
        lambda: call.api.store.approvals(
            tenant=caller.tenant or query.tenant, status=None if query.status == "any" else query.status
        )
    )
    return ApprovalList(approvals=[approval_of(r) for r in rows])


async def _visible(api: Api, approval_id: str, tenant: str | None) -> ApprovalRow:
    """The approval if the caller may see it; another tenant's is not found, in the very words of a missing one."""
    try:
        row = await anyio.to_thread.run_sync(lambda: api.store.approval(approval_id))
    except NotFound:
        row = None
    if row is None or (tenant is not None and row.tenant != tenant):
        raise NotFound(f"approval {approval_id!r} not found")
    return row


async def show_approval(call: Call[NoQuery, NoBody]) -> Approval:
    return approval_of(await _visible(call.api, call.path["approval_id"], call.caller.tenant))


async def approve(call: Call[NoQuery, Decision]) -> Approval:
    """Approve: the exact call that was parked (the one with this hash) runs, once; the approval says how it went
    (`executed`, or `failed` with the error, the run then escalated)."""
    return await _decide(call, approve=True)


async def reject(call: Call[NoQuery, Decision]) -> Approval:
    """Reject: the call never runs and the run is escalated."""
    return await _decide(call, approve=False)


async def _decide(call: Call[NoQuery, Decision], *, approve: bool) -> Approval:
    decided = await decide(call.api, call.caller, call.path["approval_id"], call.body.hash, approve=approve)
    return approval_of(decided)


async def decide(api: Api, caller: Caller, approval_id: str, seen_hash: str, *, approve: bool) -> ApprovalRow:
    """An approver's decision on an approval they may see, naming the hash they were shown (the API's and the
    console's): `InsufficientScope` without the approver role, `NotFound` for another tenant's."""
    from coordinator._sessions import SessionPool
    from coordinator.models import OfflineModel
    from coordinator.runtime import Runtime

    caller.require("approver")
    row = await _visible(api, approval_id, caller.tenant)
    # deciding needs the store and, to make an approved call, that one tool's server: no specialist, no policy
    async with SessionPool(api.connect) as pool:
        runtime = Runtime(
            store=api.store, specialists={}, pool=pool, model=OfflineModel(), policies={}, metrics=api.metrics
        )
        return await runtime.decide(
            row.id,
            tenant=row.tenant,
            actor=caller.subject,
            approve=approve,
            seen_hash=seen_hash,
            connect_tool=api.connect,
        )
