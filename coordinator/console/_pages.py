"""The console's pages: each reads the store with the signed-in token's tenant and renders a template."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlencode, urlsplit

import anyio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from coordinator.console._draw import timeline, usage_charts
from coordinator.store import ApprovalRow, Store
from coordinator.views import approval_detail, describe, parse_since, summary
from schemas import HTTP_STATUS, DeskhandError, NotFound

HERE = Path(__file__).parent
COOKIE = "deskhand_console"
STATUSES = ("running", "completed", "escalated", "awaiting_approval", "failed", "rejected")
CROSS_SITE = "forbidden: the form came from another site"
_LISTED = 200  # rows on the runs page; the API pages through more


class Viewer(Protocol):
    """Who is signed in, as the API's token check gives it: `tenant` None means every tenant (a platform token)."""

    @property
    def subject(self) -> str: ...

    @property
    def tenant(self) -> str | None: ...

    @property
    def roles(self) -> frozenset[str]: ...


V = TypeVar("V", bound=Viewer)


def _templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(), auto_reload=False)
    # exact arguments as people read them (the page escapes them; `tojson` would write ' as \u0027)
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    return Jinja2Templates(env=env)


@dataclass
class Console(Generic[V]):
    """The console's routes over one store; `mount()` gives them under `/console`. `authenticate` gives a
    token's viewer, or raises `Unauthenticated` (any `DeskhandError`) for a token it refuses; `decide` decides
    an approval as that viewer: (viewer, approval id, the hash shown, approve?) → the decided row."""

    store: Store
    authenticate: Callable[[str], Awaitable[V]]
    decide: Callable[[V, str, str, bool], Awaitable[ApprovalRow]]

    def __post_init__(self) -> None:
        self._templates = _templates()

    def mount(self) -> Mount:
        routes: list[BaseRoute] = [
            Route("/", self._home, name="console-home"),
            Route("/login", self._login_form, methods=["GET"], name="console-login-form"),
            Route("/login", self._login, methods=["POST"], name="console-login"),
            Route("/logout", self._logout, methods=["POST"], name="console-logout"),
            Route("/runs", self._runs, name="console-runs"),
            Route("/runs/table", self._runs_table, name="console-runs-table"),
            Route("/runs/{run_id}", self._run, name="console-run"),
            Route("/approvals", self._approvals, name="console-approvals"),
            Route("/approvals/{approval_id}/decide", self._decide, methods=["POST"], name="console-decide"),
            Route("/usage", self._usage, name="console-usage"),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="console-static"),
        ]
        return Mount("/console", routes=routes)

    # -- signing in ---------------------------------------------------------------------------
    async def _viewer(self, request: Request) -> V | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            return await self.authenticate(token)
        except DeskhandError:
            return None

    def _page(self, request: Request, name: str, viewer: Viewer | None, status: int = 200, **values: Any) -> Response:
        page = name.removesuffix(".html")
        return self._templates.TemplateResponse(
            request, name, {"viewer": viewer, "page": page, **values}, status_code=status
        )

    def _to_login(self, request: Request) -> Response:
        return RedirectResponse(request.url_for("console-login-form"), status_code=303)

    async def _home(self, request: Request) -> Response:
        return RedirectResponse(request.url_for("console-runs"), status_code=303)

    async def _login_form(self, request: Request) -> Response:
        return self._page(request, "login.html", None)

    async def _login(self, request: Request) -> Response:
        if not _same_origin(request):
            return self._page(request, "login.html", None, 403, problem=CROSS_SITE)
        form = await request.form()
        token = str(form.get("token") or "").strip()
        try:
            await self.authenticate(token)
        except DeskhandError as exc:
            return self._page(request, "login.html", None, 401, problem=f"{exc.code}: {exc.message}")
        response = RedirectResponse(request.url_for("console-runs"), status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/console",
        )
        return response

    async def _logout(self, request: Request) -> Response:
        response = self._to_login(request)
        response.delete_cookie(COOKIE, path="/console")
        return response

    # -- runs ---------------------------------------------------------------------------------
    def _run_filters(self, request: Request, viewer: Viewer) -> tuple[dict[str, str], datetime | None]:
        query = request.query_params
        filters = {k: query.get(k, "").strip() for k in ("tenant", "status", "since")}
        if viewer.tenant is not None:
            filters["tenant"] = viewer.tenant
        return filters, parse_since(filters["since"] or None)

    async def _runs_values(self, request: Request, viewer: Viewer) -> dict[str, Any]:
        filters, since = self._run_filters(request, viewer)
        rows = await anyio.to_thread.run_sync(
            lambda: self.store.runs(
                tenant=filters["tenant"] or None,
                status=filters["status"] or None,
                since=since,
                newest_first=True,
                limit=_LISTED,
            )
        )
        shown = {k: v for k, v in filters.items() if v and not (k == "tenant" and viewer.tenant)}
        table_url = str(request.url_for("console-runs-table")) + ("?" + urlencode(shown) if shown else "")
        return {
            "runs": [summary(r) for r in rows],
            "filters": filters,
            "statuses": STATUSES,
            "table_url": table_url,
            "now": f"{datetime.now(UTC):%H:%M:%S}",
        }

    async def _runs(self, request: Request) -> Response:
        viewer = await self._viewer(request)
        if viewer is None:
            return self._to_login(request)
        try:
            values = await self._runs_values(request, viewer)
        except ValueError as exc:
            empty = {"runs": [], "filters": {}, "statuses": STATUSES, "table_url": "", "now": ""}
            return self._page(request, "runs.html", viewer, 400, problem=f"invalid_argument: {exc}", **empty)
        return self._page(request, "runs.html", viewer, **values)

    async def _runs_table(self, request: Request) -> Response:
        viewer = await self._viewer(request)
        if viewer is None:
            return Response(status_code=401)
        try:
            values = await self._runs_values(request, viewer)
        except ValueError:
            return Response(status_code=400)
        return self._page(request, "_runs_table.html", viewer, **values)

    async def _run(self, request: Request) -> Response:
        viewer = await self._viewer(request)
        if viewer is None:
            return self._to_login(request)
        run_id = request.path_params["run_id"]
        try:
            shown = await anyio.to_thread.run_sync(lambda: describe(self.store, run_id, viewer.tenant))
        except NotFound as exc:
            return self._page(request, "missing.html", viewer, 404, problem=f"not_found: {exc.message}")
        rows = await anyio.to_thread.run_sync(lambda: self.store.approvals(run_id=run_id, status=None))
        notice = request.query_params.get("notice")
        return self._page(
            request,
            "run.html",
            viewer,
            notice=notice,
            bars=timeline(shown),
            **{**shown, "approvals": [approval_detail(r) for r in rows]},
        )

    # -- approvals ----------------------------------------------------------------------------
    async def _approvals(self, request: Request) -> Response:
        viewer = await self._viewer(request)
        if viewer is None:
            return self._to_login(request)
        rows = await anyio.to_thread.run_sync(lambda: self.store.approvals(tenant=viewer.tenant))
        return self._page(request, "approvals.html", viewer, approvals=[approval_detail(r) for r in rows])

    async def _decide(self, request: Request) -> Response:
        viewer = await self._viewer(request)
        if viewer is None:
            return self._to_login(request)
        if not _same_origin(request):
            return self._page(
                request, "missing.html", viewer, 403, problem="forbidden: the form came from another site"
            )
        form = await request.form()
        decision, seen_hash = str(form.get("decision", "")), str(form.get("hash", ""))
        approval_id = request.path_params["approval_id"]
        if decision not in ("approve", "reject"):
            return self._page(request, "missing.html", viewer, 400, problem="invalid_argument: approve or reject")
        try:
            row = await self.decide(viewer, approval_id, seen_hash, decision == "approve")
        except DeskhandError as exc:
            problem = f"{exc.code}: {exc.message}"
            return self._page(request, "missing.html", viewer, HTTP_STATUS[exc.code], problem=problem)
        target = request.url_for("console-run", run_id=row.run_id)
        return RedirectResponse(f"{target}?{urlencode({'notice': f'{row.id}: {row.status}'})}", status_code=303)

    # -- usage --------------------------------------------------------------------------------
    async def _usage(self, request: Request) -> Response:
        viewer = await self._viewer(request)
        if viewer is None:
            return self._to_login(request)
        try:
            days = min(max(int(request.query_params.get("days", "14")), 1), 90)
        except ValueError:
            days = 14
        since = datetime.now(UTC) - timedelta(days=days)
        usage = await anyio.to_thread.run_sync(lambda: self.store.daily_usage(tenant=viewer.tenant, days=days))
        failed = await anyio.to_thread.run_sync(lambda: self.store.failed_calls(tenant=viewer.tenant, since=since))
        charts = usage_charts(usage, today=datetime.now(UTC).date(), days=days)
        return self._page(request, "usage.html", viewer, days=days, usage=usage, charts=charts, failed=failed)


def _same_origin(request: Request) -> bool:
    """A form post from this console (or from no browser page at all); a cross-site one is refused. The
    cookie's SameSite=Strict already keeps it from such posts; this holds where a browser ignores it."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")
