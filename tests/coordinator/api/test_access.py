"""Who may do what over the API: no, forged or expired tokens are 401 with a challenge; a role a caller lacks is
403; another tenant's runs, approvals and usage answer exactly as ids that never existed, and lists leave them out."""

from __future__ import annotations

import base64
import json

import pytest

from coordinator._tokens import DevKeys, TokenIssuer
from tests.coordinator.api.conftest import Deployment

ZERO_HASH = {"hash": "0" * 64}


EMAIL = {"kind": "email", "event": {"from": "a@b.test", "subject": "x", "body": "y"}}
MISSING = {"run": "R-0000000000000000", "approval": "AP-000000000000", "tenant": "nosuch"}


def endpoints(run: str, approval: str, tenant: str) -> dict[str, tuple[str, str, dict[str, object] | None]]:
    """Every endpoint that names a run, an approval or a tenant, with a body it would take."""
    return {
        "run": ("GET", f"/v1/runs/{run}", None),
        "approval": ("GET", f"/v1/approvals/{approval}", None),
        "approve": ("POST", f"/v1/approvals/{approval}/approve", ZERO_HASH),
        "reject": ("POST", f"/v1/approvals/{approval}/reject", ZERO_HASH),
        "usage": ("GET", f"/v1/tenants/{tenant}/usage", None),
        "submit": ("POST", f"/v1/tenants/{tenant}/events", EMAIL),
    }


@pytest.mark.parametrize("name", list(endpoints("R", "AP", "t")))
def test_another_tenants_ids_answer_as_ids_that_never_were(deployment: Deployment, name: str) -> None:
    method, path, body = endpoints(deployment.completed, deployment.approval, "acme")[name]
    _, unknown, _ = endpoints(**MISSING)[name]
    stranger = deployment.token("northwind", "viewer", "operator", "approver")
    with deployment.client(deployment.token(None, "viewer")) as admin:
        runs_before = admin.get("/v1/runs", params={"tenant": "acme"}).json()
    with deployment.client(stranger) as client:
        theirs = client.request(method, path, json=body)
        nothing = client.request(method, unknown, json=body)
    assert theirs.status_code == nothing.status_code == 404, theirs.text
    said = nothing.json()["message"]
    for real, missing in zip((deployment.completed, deployment.approval, "acme"), MISSING.values(), strict=True):
        said = said.replace(missing, real)
    assert theirs.json() == {**nothing.json(), "message": said} and theirs.json()["code"] == "not_found"
    with deployment.client(deployment.token(None, "viewer")) as admin:  # nothing was done on acme's behalf
        assert admin.get(f"/v1/approvals/{deployment.approval}").json()["status"] == "pending"
        assert admin.get("/v1/runs", params={"tenant": "acme"}).json() == runs_before
        if method == "GET":  # and what the stranger could not see is there
            assert admin.get(path).status_code == 200


def test_lists_leave_another_tenants_rows_out(deployment: Deployment) -> None:
    with deployment.client(deployment.token("northwind", "viewer")) as client:
        runs = client.get("/v1/runs").json()["runs"]
        asked = client.get("/v1/runs", params={"tenant": "acme"}).json()["runs"]
        approvals = client.get("/v1/approvals", params={"status": "any"}).json()["approvals"]
        asked_approvals = client.get("/v1/approvals", params={"tenant": "acme"}).json()["approvals"]
    assert [r["id"] for r in runs] == [deployment.northwind]
    assert asked == [] and asked_approvals == [] and all(a["tenant"] == "northwind" for a in approvals)
    with deployment.client(deployment.token("acme", "viewer")) as client:
        mine = client.get("/v1/approvals").json()["approvals"]
    assert [a["id"] for a in mine] == [deployment.approval]


ROLE_NEEDED = {
    ("GET", "/v1/runs"): "viewer",
    ("GET", "/v1/runs/{r}"): "viewer",
    ("GET", "/v1/approvals"): "viewer",
    ("GET", "/v1/approvals/{a}"): "viewer",
    ("GET", "/v1/tenants/acme/usage"): "viewer",
    ("POST", "/v1/approvals/{a}/approve"): "approver",
    ("POST", "/v1/approvals/{a}/reject"): "approver",
    ("POST", "/v1/tenants/acme/events"): "operator",
}


@pytest.mark.parametrize("held", ["viewer", "operator", "approver", "none"])
def test_each_role_does_what_it_grants_and_nothing_more(deployment: Deployment, held: str) -> None:
    token = deployment.token("acme", *([] if held == "none" else [held]))
    bad_event = {"kind": "email", "event": {}}  # refused after the role check: nothing is started
    with deployment.client(token) as client:
        for (method, path), needed in ROLE_NEEDED.items():
            body = ZERO_HASH if "approv" in path and method == "POST" else bad_event if method == "POST" else None
            path = path.replace("{a}", deployment.approval).replace("{r}", deployment.completed)
            response = client.request(method, path, json=body)
            allowed = held != "none" and (needed == "viewer" or needed == held)
            if allowed:  # a read answers; a write goes on to its checks (the bad event, the wrong hash)
                assert response.status_code == (200 if method == "GET" else 400 if "events" in path else 409), (
                    method,
                    path,
                    response.text,
                )
            else:
                assert response.status_code == 403, (method, path, response.text)
                assert response.json()["code"] == "insufficient_scope"
                assert response.json()["required_scope"] == needed
                assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def _forged(token: str) -> str:
    header, claims, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    data["tenant"] = "northwind"
    return ".".join([header, base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("="), signature])


def test_no_forged_expired_or_foreign_token_gets_in(deployment: Deployment, tmp_path: object) -> None:
    from pathlib import Path

    good = deployment.token("acme", "viewer")
    other_key = TokenIssuer(DevKeys.create(Path(str(tmp_path)) / "keys"), issuer=deployment.home.issuer)
    cases = {
        "missing": None,
        "malformed": "not-a-jwt",
        "forged": _forged(good),
        "expired": deployment.token("acme", "viewer", ttl=-3600),
        "another key": other_key.mint(
            tenant="acme", scopes=[], audience=deployment.home.api_audience, roles=["viewer"]
        ),
        "a server's audience": deployment.token("acme", "viewer", audience=deployment.home.servers["crm"].url),
    }
    for name, token in cases.items():
        with deployment.client(token) as client:
            response = client.get("/v1/runs")
        assert response.status_code == 401, (name, response.text)
        assert response.json()["code"] == "unauthenticated", name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
        assert deployment.completed not in response.text
    with deployment.client(good) as client:
        assert client.get("/v1/runs").status_code == 200


def test_a_token_bound_to_no_tenant_or_to_both_kinds_is_refused(deployment: Deployment) -> None:
    import jwt

    keys = DevKeys.load(deployment.home.keys_dir)
    issuer = TokenIssuer(keys, issuer=deployment.home.issuer)
    both = jwt.decode(
        issuer.mint(tenant="acme", scopes=[], audience="x", roles=["viewer"]), options={"verify_signature": False}
    )
    both.update({"deskhand/all_tenants": True, "aud": deployment.home.api_audience})
    neither = {k: v for k, v in both.items() if k not in ("tenant", "deskhand/all_tenants")}
    for claims in (both, neither):
        token = jwt.encode(claims, keys.private_key, algorithm="EdDSA", headers={"kid": keys.kid})
        with deployment.client(token) as client:
            response = client.get("/v1/runs")
        assert response.status_code == 401 and "claims" in response.json()["message"]
