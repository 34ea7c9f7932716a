"""The OpenAPI 3.1 document of the API, generated from the endpoint table and the pydantic models of its
queries, bodies and responses (JSON Schema 2020-12, which OpenAPI 3.1 takes as it is)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from coordinator.api._endpoints import Endpoint
from coordinator.api._errors import STATUS
from coordinator.api._models import NoBody
from schemas import ErrorPayload

OPENAPI_PATH = "/v1/openapi.json"
METRICS_PATH = "/metrics"
_REF = "#/components/schemas/{model}"


def openapi_document(endpoints: Sequence[Endpoint[Any, Any]], *, version: str) -> dict[str, Any]:
    models: list[type[BaseModel]] = [ErrorPayload]
    for e in endpoints:
        models.append(e.response)
        if e.body is not NoBody:
            models.append(e.body)
    keyed: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "serialization") for m in dict.fromkeys(models)]
    refs, schemas = models_json_schema(keyed, ref_template=_REF)
    ref_of = {model: refs[(model, mode)]["$ref"] for model, mode in keyed}
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(e, ref_of)
    paths[OPENAPI_PATH] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document.",
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
            },
        }
    }
    error = {"description": "An error: its code and message", "content": _json(ref_of[ErrorPayload])}
    paths[METRICS_PATH] = {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics, for a token bound to every tenant with an API role or `metrics`.",
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}},
                "401": error,
                "403": error,
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "deskhand API",
            "version": version,
            "description": "Submit events, follow runs, decide approvals and read usage, per tenant. "
            "Bearer JWTs for the API audience; roles viewer, operator, approver.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _operation(e: Endpoint[Any, Any], ref_of: dict[type[BaseModel], str]) -> dict[str, Any]:
    error = {
        "description": "An error: its code, message and the field it is about",
        "content": _json(ref_of[ErrorPayload]),
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 200}}
        for name in re.findall(r"{(\w+)}", e.path)
    ]
    query_schema = e.query.model_json_schema()
    required = set(query_schema.get("required", []))
    for name, schema in query_schema.get("properties", {}).items():
        schema = {k: v for k, v in schema.items() if k != "title"}
        parameters.append({"name": name, "in": "query", "required": name in required, "schema": schema})
    operation: dict[str, Any] = {
        "operationId": e.handler.__name__,
        "summary": e.summary,
        **({"description": doc} if (doc := inspect.getdoc(e.handler)) else {}),
        "parameters": parameters,
        "responses": {str(e.status): {"description": "OK", "content": _json(ref_of[e.response])}},
    }
    if e.body is not NoBody:
        operation["requestBody"] = {"required": True, "content": _json(ref_of[e.body])}
    statuses = {400, 413} if e.body is not NoBody else {400}
    if e.role is not None:
        operation["security"] = [{"bearer": []}]
        operation["x-deskhand-role"] = e.role
        statuses |= {401, 403, 404, 503}
        if e.method == "POST":
            statuses |= {409, 429}
    else:
        statuses |= {503}
    for status in sorted(statuses & set(STATUS.values())):
        operation["responses"][str(status)] = error
    return operation


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": ref}}}
