"""The OpenAPI document the API serves: valid OpenAPI 3.1, naming every route the app serves with the role it
needs, and describing what the endpoints really answer."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Route

from coordinator.api import ENDPOINTS, OPENAPI_PATH, create_app
from coordinator.api._errors import STATUS
from schemas import ErrorCode
from tests.coordinator.api.conftest import Deployment


def document(d: Deployment) -> dict[str, Any]:
    with d.client() as client:  # served without a token
        response = client.get(OPENAPI_PATH)
    assert response.status_code == 200
    served: dict[str, Any] = response.json()
    return served


def test_the_served_document_is_valid_openapi_3_1(deployment: Deployment) -> None:
    spec = document(deployment)
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises on an invalid document


def test_every_route_the_app_serves_is_in_the_document(deployment: Deployment) -> None:
    from coordinator.store import Store

    spec = document(deployment)
    store = Store(deployment.db)
    try:
        app = create_app(deployment.home, store)
    finally:
        store.dispose()
    served = {
        (method.lower(), route.path)
        for route in app.routes
        if isinstance(route, Route) and route.path != "/"  # `/` leads a browser to the console (not the API)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert served == documented
    for endpoint in ENDPOINTS:
        operation = spec["paths"][endpoint.path][endpoint.method.lower()]
        assert operation.get("x-deskhand-role") == endpoint.role
        assert set(re.findall(r"{(\w+)}", endpoint.path)) <= {p["name"] for p in operation["parameters"]}


def test_answers_match_the_schemas_the_document_gives(deployment: Deployment) -> None:
    spec = document(deployment)
    registry = Registry().with_resource("urn:deskhand-api", Resource(spec, DRAFT202012))

    def check(path: str, status: int, body: Any) -> None:
        template = next(p for p in spec["paths"] if re.fullmatch(re.sub(r"{\w+}", "[^/]+", p), path))
        content = spec["paths"][template]["get"]["responses"][str(status)]["content"]
        ref = content["application/json"]["schema"]["$ref"]
        jsonschema.Draft202012Validator({"$ref": f"urn:deskhand-api{ref}"}, registry=registry).validate(body)

    paths = [
        "/v1/runs",
        f"/v1/runs/{deployment.waiting}",
        "/v1/approvals",
        f"/v1/approvals/{deployment.approval}",
        "/v1/tenants/acme/usage",
        "/v1/runs/R-nothing",
        "/healthz",
        "/readyz",
    ]
    with deployment.client(deployment.token(None, "viewer")) as client:
        for path in paths:
            response = client.get(path)
            check(path, response.status_code, response.json())


def test_every_error_code_has_a_status() -> None:
    from typing import get_args

    assert set(STATUS) == set(get_args(ErrorCode))
