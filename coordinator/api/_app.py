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
from coordinator.api._auth import Authenticator, Caller
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
from mcp_servers.kit import JwtVerifier, KeySet

if TYPE_CHECKING:
    from coordinator._home import Home
    from coordinator._sessions import Connect
    from coordinator.store import ApprovalRow, Store

MAX_BODY_BYTES: Final = 256 * 1024
"""The largest request body read (an email's body may run to 50,000 characters)."""

ENDPOINTS: Final[list[Endpoint[Any, Any]]] = [
    Endpoint("GET", "/healthz", _health.healthz, "The process answers.", NoQuery, NoBody, Health, None),
    Endpoint("GET", "/readyz", _health.readyz, "The store answers, its schema current.", NoQuery, NoBody, Ready, None),
    Endpoint(
        "POST",
        "/v1/tenants/{tenant}/events",
        _runs.submit_event,
        "Submit an event (an email, an account review): its run starts; workers pick it up.",
        NoQuery,
        SubmitRequest,
        Submitted,
        "operator",
    ),
    Endpoint(
        "GET",
        "/v1/runs",
        _runs.list_runs,
        "Runs, newest first, a page at a time.",
        RunsQuery,
        NoBody,
        RunPage,
        "viewer",
    ),
    Endpoint(
        "GET", "/v1/runs/{run_id}", _runs.show_run, "One run's whole story.", NoQuery, NoBody, RunDetail, "viewer"
    ),
    Endpoint(
        "GET",
        "/v1/approvals",
        _approvals.list_approvals,
        "Approvals, pending by default.",
        ApprovalsQuery,
        NoBody,
        ApprovalList,
        "viewer",
    ),
    Endpoint(
        "GET",
        "/v1/approvals/{approval_id}",
        _approvals.show_approval,
        "One approval: the exact arguments and their hash.",
        NoQuery,
        NoBody,
        Approval,
        "viewer",
    ),
    Endpoint(
        "POST",
        "/v1/approvals/{approval_id}/approve",
        _approvals.approve,
        "Approve, naming the hash shown: the parked call runs, once.",
        NoQuery,
        Decision,
        Approval,
        "approver",
    ),
    Endpoint(
        "POST",
        "/v1/approvals/{approval_id}/reject",
        _approvals.reject,
        "Reject, naming the hash shown: the call never runs; the run escalates.",
        NoQuery,
        Decision,
        Approval,
        "approver",
    ),
    Endpoint(
        "GET",
        "/v1/tenants/{tenant}/usage",
        _usage.usage,
        "A tenant's runs, tokens and cost today.",
        NoQuery,
        NoBody,
        Usage,
        "viewer",
    ),
]


def create_app(
    home: Home,
    store: Store,
    *,
    verifier: JwtVerifier | None = None,
    connect: Connect | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Starlette:
    """The API over `store` for the tenants of `home`. `verifier`: whose tokens it trusts (default: the home's
    keys and issuer, for `home.api_audience`); `connect`: how an approved call reaches its server (default: the
    home's servers over HTTP, with tokens of the home's issuer)."""
    from coordinator._service import issuer_of
    from coordinator._sessions import http_connector

    verifier = verifier or JwtVerifier(KeySet.from_file(home.jwks_path), issuer=home.issuer, audience=home.api_audience)
    connect = connect or http_connector({n: s.url for n, s in home.servers.items()}, issuer_of(home))
    api = Api(home, store, Authenticator(verifier), connect, max_body_bytes)
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
    return Starlette(routes=routes, exception_handlers={HTTPException: http_exception, Exception: unexpected})


def _version() -> str:
    try:
        return version("deskhand")
    except PackageNotFoundError:
        return "0"
