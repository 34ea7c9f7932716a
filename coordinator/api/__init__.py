"""The HTTP API (`deskhand api serve`): events submitted, runs and their stories, approvals decided and usage
read, per tenant, over the same store as the workers; bearer JWTs with API roles; an OpenAPI document.

`create_app(home, store)` is the Starlette app; `ENDPOINTS` the table it serves (each endpoint's models make
the OpenAPI document). A new endpoint is a handler in the module of its noun and a row in `ENDPOINTS`.
May import the rest of the coordinator and the boundary kit; the console is served beside it.
"""

from coordinator.api._app import ENDPOINTS, MAX_BODY_BYTES, create_app
from coordinator.api._auth import API_ROLES, ApiRole, Caller, caller_from_claims
from coordinator.api._openapi import OPENAPI_PATH

__all__ = [
    "API_ROLES",
    "ENDPOINTS",
    "MAX_BODY_BYTES",
    "OPENAPI_PATH",
    "ApiRole",
    "Caller",
    "caller_from_claims",
    "create_app",
]
