"""Bad input gets a 4xx with the project's error payload naming what is wrong, and starts nothing (test_fuzz.py
sends what a fuzzer makes of the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from coordinator.api import MAX_BODY_BYTES
from tests.coordinator.api.conftest import Deployment


@pytest.fixture(scope="module")
def operator(deployment: Deployment) -> Iterator[httpx2.Client]:
    with deployment.client(deployment.token(None, "viewer", "operator", "approver")) as client:
        yield client


def runs_count(client: httpx2.Client) -> int:
    return len(client.get("/v1/runs", params={"limit": 200}).json()["runs"])


EMAIL = {"from": "a@b.test", "subject": "x", "body": "y"}


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (b"{not json", 400, "invalid_argument", "body"),
        (b"[" * 100_000, 400, "invalid_argument", "body"),
        (b'"a string"', 400, "invalid_argument", "body"),
        (b'{"kind": "email", "event": "x"}', 400, "invalid_argument", "event"),
        (b'{"kind": "parcel", "event": {}}', 400, "invalid_argument", "kind"),
        (b'{"kind": "email", "event": {"subject": "x", "body": "y"}}', 400, "invalid_argument", "event.sender"),
        (
            b'{"kind": "email", "event": {"from": "nope", "subject": "x", "body": "y"}}',
            400,
            "invalid_argument",
            "event.sender",
        ),
        (b'{"event": {"from": "a@b.test", "subject": "x", "body": "y"}, "cc": 1}', 400, "invalid_argument", "cc"),
        (
            b'{"event": {"from": "a@b.test", "subject": "x", "body": "y"}, "workflow": "nosuch"}',
            404,
            "not_found",
            "workflow",
        ),
        (
            b'{"kind": "account_review", "event": {"account_id": "A-1"}, "workflow": "support-inbox"}',
            400,
            "invalid_argument",
            "workflow",
        ),
    ],
)
def test_a_bad_submission_is_refused_naming_the_field_and_starts_nothing(
    deployment: Deployment, operator: httpx2.Client, body: bytes, status: int, code: str, field: str
) -> None:
    before = runs_count(operator)
    response = operator.post("/v1/tenants/acme/events", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.json()["code"] == code and response.json()["field"] == field
    assert runs_count(operator) == before


def test_an_unknown_tenant_is_not_found(operator: httpx2.Client) -> None:
    for path in ("/v1/tenants/nosuch/events", "/v1/tenants/nosuch/usage"):
        method = "POST" if path.endswith("events") else "GET"
        response = operator.request(method, path, json={"event": EMAIL})
        assert response.status_code == 404 and response.json() == {
            "code": "not_found",
            "message": "tenant 'nosuch' not found",
            "field": "tenant",
        }


def test_an_oversized_body_is_refused_whether_declared_or_streamed(operator: httpx2.Client) -> None:
    big = b'{"event": {"body": "' + b"x" * MAX_BODY_BYTES + b'"}}'
    declared = operator.post("/v1/tenants/acme/events", content=big)
    assert declared.status_code == 413 and declared.json()["code"] == "request_too_large"

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    streamed = operator.post("/v1/tenants/acme/events", content=chunks())  # no content-length: chunked
    assert streamed.status_code == 413 and streamed.json()["code"] == "request_too_large"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "lots"}, "limit"),
        ({"status": "bogus"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"since": "99999999999999d"}, "since"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"tenant": "Not A Tenant"}, "tenant"),
        ({"colour": "blue"}, "colour"),
        ([("tenant", "acme"), ("tenant", "northwind")], "tenant"),
    ],
)
def test_a_bad_query_is_refused_naming_the_parameter(
    operator: httpx2.Client, params: dict[str, str] | list[tuple[str, str]], field: str
) -> None:
    response = operator.get("/v1/runs", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_argument" and response.json()["field"] == field


def test_a_decision_must_name_a_well_formed_hash(deployment: Deployment, operator: httpx2.Client) -> None:
    for body in ({}, {"hash": "abc"}, {"hash": 5}, {"hash": "0" * 64, "also": 1}):
        response = operator.post(f"/v1/approvals/{deployment.approval}/approve", json=body)
        assert response.status_code == 400 and response.json()["code"] == "invalid_argument", body
    assert operator.get(f"/v1/approvals/{deployment.approval}").json()["status"] == "pending"


def test_unknown_routes_and_methods_answer_in_the_error_payload(operator: httpx2.Client) -> None:
    unknown = operator.get("/v1/nothing")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    wrong = operator.delete("/v1/runs")
    assert wrong.status_code == 405 and wrong.json()["code"] == "invalid_argument"
