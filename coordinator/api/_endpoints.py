"""An endpoint as data: its method, path, role, query, body and response models, and a plain handler. One table
of them makes both the Starlette routes and the OpenAPI document, so neither can name a route the other lacks.

The route around each handler authenticates the caller and checks the role, validates the query and the body
(read up to the size limit) against their models, and answers the handler's model as JSON, or a
`DeskhandError` as its payload with its status.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from coordinator.api._auth import ApiRole, Authenticator, Caller
from coordinator.api._errors import error_response
from coordinator.api._models import NoBody
from schemas import DeskhandError, InvalidArgument, RequestTooLarge

if TYPE_CHECKING:
    from coordinator._home import Home
    from coordinator._sessions import Connect
    from coordinator.store import Store
    from coordinator.telemetry import CoordinatorMetrics
    from coordinator.workflow import Workflow

logger = logging.getLogger(__name__)

Q = TypeVar("Q", bound=BaseModel)
B = TypeVar("B", bound=BaseModel)


@dataclass(frozen=True)
class Api:
    """What every handler may use: the home and its workflows (read at start-up), the store, how callers are
    verified, how an approved call reaches its server, and the largest body read."""

    home: Home
    workflows: Mapping[str, Workflow]
    store: Store
    authenticator: Authenticator
    connect: Connect
    max_body_bytes: int
    metrics: CoordinatorMetrics
    """This process's metrics (a decision that ends a run counts it)."""


@dataclass(frozen=True)
class Call(Generic[Q, B]):
    """One request as a handler sees it: validated, with its verified caller (`PUBLIC` on a public endpoint)."""

    api: Api
    caller: Caller
    path: Mapping[str, str]
    query: Q
    body: B


@dataclass(frozen=True)
class Endpoint(Generic[Q, B]):
    method: str
    path: str
    handler: Callable[[Call[Q, B]], Awaitable[BaseModel]]
    summary: str
    query: type[Q]
    body: type[B]
    response: type[BaseModel]
    role: ApiRole | None
    """The role the caller needs; None: a public endpoint (health), no token read."""
    status: int = 200

    def route(self, api: Api) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                return await self._answer(api, request)
            except DeskhandError as exc:
                return error_response(exc)

        return Route(self.path, endpoint, methods=[self.method], name=self.handler.__name__)

    async def _answer(self, api: Api, request: Request) -> Response:
        caller = PUBLIC
        if self.role is not None:
            caller = await api.authenticator.caller(request)
            caller.require(self.role)
        query = _validate(self.query, _single_values(request), "query")
        body = (
            self.body()
            if self.body is NoBody
            else _validate(self.body, await _json_body(request, api.max_body_bytes), "body")
        )
        result = await self.handler(Call(api, caller, request.path_params, query, body))
        return JSONResponse(result.model_dump(mode="json"), status_code=self.status)


PUBLIC = Caller(subject="", tenant="", roles=frozenset())
"""The caller of a public endpoint: it sees no tenant and holds no role."""


def _single_values(request: Request) -> dict[str, str]:
    """The query's parameters, each given once (a parameter given twice is refused, not read as either)."""
    counts = Counter(name for name, _ in request.query_params.multi_items())
    for name, count in counts.items():
        if count > 1:
            raise InvalidArgument(f"query: {name}: given {count} times; give it once", field=name)
    return dict(request.query_params)


async def _json_body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"the request body is {declared} bytes; this API accepts at most {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise RequestTooLarge(f"the request body is over {limit} bytes, the most this API accepts")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument(f"the request body is not JSON: {exc}", field="body") from None


def _validate(model: type[Q], data: Any, where: str) -> Q:
    """`data` as `model`, or `InvalidArgument` naming the first field that is wrong and what was expected."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or where
        raise InvalidArgument(f"{where}: {field}: {first['msg']}", field=field) from None


async def unexpected(request: Request, exc: Exception) -> Response:
    """The last resort: a bug answers 500 naming a correlation id, its traceback logged once, nothing else told."""
    correlation = uuid.uuid4().hex[:12]
    logger.error("internal error %s in %s %s", correlation, request.method, request.url.path, exc_info=exc)
    body = {"code": "internal", "message": f"internal error (correlation id {correlation})"}
    return JSONResponse(body, status_code=500)
