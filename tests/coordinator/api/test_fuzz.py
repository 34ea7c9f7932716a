"""Schemathesis drives every operation of the served OpenAPI document with generated requests (those the document
allows, and those it does not): the API never answers 500, refuses what the document does not allow, needs its
token where it says so, and its answers keep to the document (statuses, content types, body schemas)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.generation import GenerationMode

from coordinator.api import ENDPOINTS
from tests.coordinator.api.conftest import Deployment

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
]
"""Schemathesis's checks but `positive_data_acceptance`: a request the document allows may still be refused for
what no schema says (a cursor this API never gave, a `since` that is no duration, an event of no known shape)."""


@pytest.mark.slow
def test_the_api_keeps_to_its_document_whatever_it_is_sent(deployment: Deployment) -> None:
    schema = schemathesis.openapi.from_url(f"{deployment.url}/v1/openapi.json")
    token = deployment.token(None, "viewer", "operator", "approver")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {f"{e.method} {e.path}" for e in ENDPOINTS}  # the document's own aside
    strategy = st.one_of(
        [
            op.as_strategy(generation_mode=mode)
            for op in operations
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
    )

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def answers(case: schemathesis.Case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        case.validate_response(response, checks=CHECKS)

    answers()
