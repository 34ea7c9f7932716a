"""The app: the endpoint table, and `create_app`, which serves it over a home's store."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import BaseRoute, Route

from coordinator.api import _approvals, _health, _runs, _usage
from coordinator.api._auth import API_ROLES, Authenticator, Caller
from coordinator.api._endpoints import Api, Endpoint, unexpected
from coordinator.api._errors import http_exception
from coordinator.api._models import (
    Approval,
    ApprovalList,
    ApprovalsQuery,
    Decision,
    Health,
    NoBody,
    NoQuery,
    Ready,
    RunDetail,
    RunPage,
    RunsQuery,
    SubmitRequest,
    Submitted,
    Usage,
)
from coordinator.api._openapi import OPENAPI_PATH, openapi_document
from coordinator.console import Console
from coordinator.telemetry import CoordinatorMetrics, metrics_route
from mcp_servers.kit import JwtVerifier, KeySet

if TYPE_CHECKING:
    from coordinator._home import Home
    from coordinator._sessions import Connect
    from coordinator.store import ApprovalRow, Store

MAX_BODY_BYTES: Final = 256 * 1024
"""The largest request body read (an email's body may run to 50,000 characters)."""

ENDPOINTS: Final[list[Endpoint[Any, Any]]] = [
    Endpoint(
        "GET", "/healthz", _health.healthz, query=NoQuery, body=NoBody, response=Health, role=None,
        summary="The process answers.",
    ),
    Endpoint(
        "GET", "/readyz", _health.readyz, query=NoQuery, body=NoBody, response=Ready, role=None,
        summary="The store answers, at the schema this deskhand expects.",
    ),
    Endpoint(
        "POST", "/v1/tenants/{tenant}/events", _runs.submit_event,
        query=NoQuery, body=SubmitRequest, response=Submitted, role="operator",
        summary="Submit an event (an email, an account review): its run starts, and workers pick it up.",
    ),
    Endpoint(
        "GET", "/v1/runs", _runs.list_runs, query=RunsQuery, body=NoBody, response=RunPage, role="viewer",
        summary="Runs, newest first, a page at a time.",
    ),
    Endpoint(
        "GET", "/v1/runs/{run_id}", _runs.show_run, query=NoQuery, body=NoBody, response=RunDetail, role="viewer",
        summary="One run's whole story, in the order it happened.",
    ),
    Endpoint(
        "GET", "/v1/approvals", _approvals.list_approvals,
        query=ApprovalsQuery, body=NoBody, response=ApprovalList, role="viewer",
        summary="Approvals, pending ones by default.",
    ),
    Endpoint(
        "GET", "/v1/approvals/{approval_id}", _approvals.show_approval,
        query=NoQuery, body=NoBody, response=Approval, role="viewer",
        summary="One approval: the exact arguments and their hash.",
    ),
    Endpoint(
        "POST", "/v1/approvals/{approval_id}/approve", _approvals.approve,
        query=NoQuery, body=Decision, response=Approval, role="approver",
        summary="Approve, naming the hash shown: the parked call runs, once.",
    ),
    Endpoint(
        "POST", "/v1/approvals/{approval_id}/reject", _approvals.reject,
        query=NoQuery, body=Decision, response=Approval, role="approver",
        summary="Reject, naming the hash shown: the call never runs, and the run escalates.",
    ),
    Endpoint(
        "GET", "/v1/tenants/{tenant}/usage", _usage.usage, query=NoQuery, body=NoBody, response=Usage, role="viewer",
        summary="A tenant's runs by outcome and in flight, its tokens and cost today against its daily limit.",
    ),
]  # fmt: skip


def create_app(
    home: Home,
    store: Store,
    *,
    verifier: JwtVerifier | None = None,
    connect: Connect | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    metrics: CoordinatorMetrics | None = None,
) -> Starlette:
    """The API over `store` for the tenants of `home`. `verifier`: whose tokens it trusts (default: the home's
    keys and issuer, for `home.api_audience`); `connect`: how an approved call reaches its server (default: the
    home's servers over HTTP, with tokens of the home's issuer); `metrics`: what its `/metrics` serves beside the
    store's gauges (default: this process's own)."""
    from coordinator._service import routes_of
    from coordinator._sessions import http_connector
    from coordinator._submission import daily_limits, home_workflows

    verifier = verifier or JwtVerifier(KeySet.from_file(home.jwks_path), issuer=home.issuer, audience=home.api_audience)
    connect = connect or http_connector(routes_of(home))
    metrics = metrics or CoordinatorMetrics()
    api = Api(home, home_workflows(home), store, Authenticator(verifier), connect, max_body_bytes, metrics)
    document = openapi_document(ENDPOINTS, version=_version())

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(document)

    async def decide(caller: Caller, approval_id: str, seen_hash: str, approve: bool) -> ApprovalRow:
        return await _approvals.decide(api, caller, approval_id, seen_hash, approve=approve)

    console = Console(store, api.authenticator.caller_of, decide)

    async def home_page(request: Request) -> RedirectResponse:
        return RedirectResponse(request.url_for("console-home"), status_code=303)

    routes: list[BaseRoute] = [e.route(api) for e in ENDPOINTS]
    routes += [Route(OPENAPI_PATH, openapi, methods=["GET"]), Route("/", home_page), console.mount()]
    routes.append(metrics_route(metrics, store, lambda: daily_limits(home), verifier, API_ROLES))
    return Starlette(routes=routes, exception_handlers={HTTPException: http_exception, Exception: unexpected})


def _version() -> str:
    try:
        return version("deskhand")
    except PackageNotFoundError:
        return "0"
