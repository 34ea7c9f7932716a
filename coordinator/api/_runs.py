"""Runs: submitted for a tenant, listed newest first a page at a time, and one run's whole story."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

import anyio
from pydantic import BaseModel, ValidationError

from coordinator import views
from coordinator._submission import submit as start_run
from coordinator._submission import workflow_for
from coordinator.api._endpoints import Call
from coordinator.api._models import NoBody, NoQuery, RunDetail, RunPage, RunsQuery, RunSummary, SubmitRequest, Submitted
from coordinator.workflow import EVENTS, EventName
from schemas import InvalidArgument, NotFound


def encode_cursor(at: datetime, run_id: str) -> str:
    """An opaque cursor: the (created_at, id) of the last run of a page."""
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), run_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, run_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), str(run_id)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidArgument(
            "cursor: not a cursor this API gave (give next_cursor as it is)", field="cursor"
        ) from None


async def list_runs(call: Call[RunsQuery, NoBody]) -> RunPage:
    """Runs newest first: a tenant-bound caller's own only (a filter on another tenant finds none)."""
    query, caller = call.query, call.caller
    if query.tenant is not None and not caller.sees(query.tenant):
        return RunPage(runs=[], next_cursor=None)
    try:
        since = views.parse_since(query.since)
    except ValueError as exc:
        raise InvalidArgument(f"since: {exc}", field="since") from None
    after = None if query.cursor is None else decode_cursor(query.cursor)
    rows = await anyio.to_thread.run_sync(
        lambda: call.api.store.runs_page(
            tenant=caller.tenant or query.tenant,
            status=query.status,
            since=since,
            after=after,
            limit=query.limit + 1,
        )
    )
    page, more = rows[: query.limit], len(rows) > query.limit
    cursor = encode_cursor(page[-1].created_at, page[-1].id) if more else None
    return RunPage(runs=[RunSummary.model_validate(views.summary(r)) for r in page], next_cursor=cursor)


async def show_run(call: Call[NoQuery, NoBody]) -> RunDetail:
    """One run as `deskhand runs show` tells it; another tenant's is not found, as one that never was."""
    run_id = call.path["run_id"]
    detail = await anyio.to_thread.run_sync(lambda: views.describe(call.api.store, run_id, call.caller.tenant))
    return RunDetail.model_validate(detail)


async def submit_event(call: Call[NoQuery, SubmitRequest]) -> Submitted:
    """Start the run of an event for a tenant, as `deskhand submit` does; its workers pick it up."""
    tenant, request, home = call.path["tenant"], call.body, call.api.home
    if not call.caller.sees(tenant) or tenant not in home.tenants:
        raise NotFound(f"tenant {tenant!r} not found", field="tenant")
    data = dict(request.event)
    if request.kind == "email" and "from" in data and "sender" not in data:
        data["sender"] = data.pop("from")
    workflow = await anyio.to_thread.run_sync(lambda: workflow_for(home, tenant, request.kind, request.workflow))
    event = _event(request.kind, data)
    run_id, new = await anyio.to_thread.run_sync(
        lambda: start_run(home, call.api.store, tenant, event, workflow, source=request.source)
    )
    return Submitted(run=run_id, new=new)


def _event(kind: EventName, data: dict[str, Any]) -> BaseModel:
    model = EVENTS[kind]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = "event." + ".".join(str(p) for p in first["loc"])
        raise InvalidArgument(f"body: {field}: {first['msg']}", field=field) from None
