"""Who may do what over the API: no, forged or expired tokens are 401 with a challenge; a role a caller lacks is
403; another tenant's runs, approvals and usage answer exactly as ids that never existed, and lists leave them out."""

from __future__ import annotations

import base64
import json

import pytest

from coordinator._tokens import DevKeys, TokenIssuer
from tests.coordinator.api.conftest import Deployment

ZERO_HASH = {"hash": "0" * 64}


def endpoints(d: Deployment) -> list[tuple[str, str, dict[str, object] | None]]:
    """Every endpoint that names an acme id, with a body it would take."""
    email = {"kind": "email", "event": {"from": "a@b.test", "subject": "x", "body": "y"}}
    return [
        ("GET", f"/v1/runs/{d.completed}", None),
        ("GET", f"/v1/approvals/{d.approval}", None),
        ("POST", f"/v1/approvals/{d.approval}/approve", ZERO_HASH),
        ("POST", f"/v1/approvals/{d.approval}/reject", ZERO_HASH),
        ("GET", "/v1/tenants/acme/usage", None),
        ("POST", "/v1/tenants/acme/events", email),
    ]


@pytest.mark.parametrize("index", range(6), ids=["run", "approval", "approve", "reject", "usage", "submit"])
def test_another_tenants_ids_answer_as_ids_that_never_were(deployment: Deployment, index: int) -> None:
    method, path, body = endpoints(deployment)[index]
    stranger = deployment.token("northwind", "viewer", "operator", "approver")
    unknown = path.replace(deployment.completed, "R-0000000000000000").replace(deployment.approval, "AP-000000000000")
    unknown = unknown.replace("/tenants/acme/", "/tenants/nosuch/")
    with deployment.client(stranger) as client:
        theirs = client.request(method, path, json=body)
        nothing = client.request(method, unknown, json=body)
    assert theirs.status_code == nothing.status_code == 404, theirs.text
    as_missing = nothing.json()
    as_missing["message"] = as_missing["message"].replace("R-0000000000000000", deployment.completed)
    as_missing["message"] = as_missing["message"].replace("AP-000000000000", deployment.approval)
    as_missing["message"] = as_missing["message"].replace("nosuch", "acme")
    assert theirs.json() == as_missing and theirs.json()["code"] == "not_found"
    with deployment.client(deployment.token("acme", "viewer", "operator", "approver")) as client:
        if method == "GET":  # the owner sees it
            assert client.get(path).status_code == 200


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
    ("GET", "/v1/approvals"): "viewer",
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
            response = client.request(method, path.replace("{a}", "AP-000000000000"), json=body)
            allowed = held != "none" and (needed == "viewer" or needed == held)
            if allowed:
                assert response.status_code != 403, (method, path, response.text)
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
