"""`deskhand approvals list/show/approve/reject` as an approver runs them: a tenant's token to see or decide,
the hash of what was seen named in the decision, and a call that could not be made said so with a non-zero exit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from coordinator import Home
from coordinator._tokens import DevKeys, TokenIssuer
from coordinator.store import ApprovalRow, Store
from tests.coordinator.cli_helpers import ACME, NORTHWIND, cli, init_on_free_ports
from tests.coordinator.test_approvals import park


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A home with both tenants and no servers running."""
    return init_on_free_ports(tmp_path_factory.mktemp("home"), ACME, NORTHWIND)


@pytest.fixture
def parked(home: Home) -> Iterator[dict[str, ApprovalRow]]:
    store = Store(home.coordinator_db)
    try:
        yield {tenant: park(store, tenant) for tenant in ("acme", "northwind")}
    finally:
        store.dispose()


def token(home: Home, tenant: str, role: str = "approver") -> str:
    issuer = TokenIssuer(DevKeys.load(home.keys_dir), issuer=home.issuer)
    return issuer.mint(tenant=tenant, scopes=[], audience=home.approvals_audience, roles=[role], subject=f"{role}@x")


def stored(home: Home, approval_id: str) -> tuple[str, str]:
    """The approval's status and its run's status."""
    store = Store(home.coordinator_db)
    try:
        row = store.approval(approval_id)
        return row.status, store.run(row.run_id).status
    finally:
        store.dispose()


def test_listing_approvals_with_a_token_needs_the_approver_role_and_shows_only_its_tenants(
    home: Home, parked: dict[str, ApprovalRow]
) -> None:
    path = str(home.path)
    agent = cli("--home", path, "approvals", "list", "--token", token(home, "acme", "agent"))
    assert agent.exit_code == 1 and "insufficient_scope" in agent.stderr
    listed = cli("--home", path, "approvals", "list", "--token", token(home, "acme"))
    assert listed.exit_code == 0, listed.stderr
    assert parked["acme"].id in listed.stdout and parked["acme"].args_hash in listed.stdout
    assert parked["northwind"].id not in listed.stdout


def test_show_prints_the_exact_arguments_and_their_hash(home: Home, parked: dict[str, ApprovalRow]) -> None:
    path, acme = str(home.path), parked["acme"]
    shown = cli("--home", path, "approvals", "show", acme.id, "--token", token(home, "acme"))
    assert shown.exit_code == 0, shown.stderr
    assert f"hash: {acme.args_hash}" in shown.stdout and '"amount_cents": 500' in shown.stdout
    stranger = cli("--home", path, "approvals", "show", acme.id, "--token", token(home, "northwind"))
    assert stranger.exit_code == 1 and "not_found" in stranger.stderr
    store = Store(home.coordinator_db)
    try:
        with store.engine.begin() as connection:  # changed in the store behind the approver's back
            connection.execute(
                update(ApprovalRow)
                .where(ApprovalRow.id == acme.id)  # type: ignore[arg-type]
                .values(arguments={**acme.arguments, "amount_cents": 99999})
            )
    finally:
        store.dispose()
    tampered = cli("--home", path, "approvals", "show", acme.id, "--token", token(home, "acme"))
    assert '"amount_cents": 99999' in tampered.stdout and "changed in the store" in tampered.stderr


def test_a_decision_must_name_the_hash_that_was_shown(home: Home, parked: dict[str, ApprovalRow]) -> None:
    path, acme = str(home.path), parked["acme"]
    unnamed = cli("--home", path, "approvals", "approve", acme.id, "--token", token(home, "acme"))
    assert unnamed.exit_code == 2 and "--hash" in unnamed.stderr
    other = "0" * 64
    wrong = cli("--home", path, "approvals", "approve", acme.id, "--hash", other, "--token", token(home, "acme"))
    assert wrong.exit_code == 1 and "conflict" in wrong.stderr and acme.args_hash in wrong.stderr
    assert stored(home, acme.id) == ("pending", "awaiting_approval")  # nothing changed
    nw = parked["northwind"]
    rejected = cli(
        "--home", path, "approvals", "reject", nw.id, "--hash", nw.args_hash, "--token", token(home, "northwind")
    )
    assert rejected.exit_code == 0 and f"{nw.id}: rejected" in rejected.stdout
    again = cli(
        "--home", path, "approvals", "approve", nw.id, "--hash", nw.args_hash, "--token", token(home, "northwind")
    )
    assert again.exit_code == 1 and "already rejected" in again.stderr
    assert stored(home, nw.id) == ("rejected", "escalated")


def test_an_approved_call_that_cannot_be_made_exits_non_zero_and_escalates_the_run(
    home: Home, parked: dict[str, ApprovalRow]
) -> None:
    acme = parked["acme"]  # no server is running: the call cannot reach crm
    approved = cli(
        "--home",
        str(home.path),
        "approvals",
        "approve",
        acme.id,
        "--hash",
        acme.args_hash,
        "--token",
        token(home, "acme"),
    )
    assert approved.exit_code == 1
    assert f"{acme.id}: failed" in approved.stderr and "unavailable" in approved.stderr
    assert stored(home, acme.id) == ("failed", "escalated")


def test_listed_ids_and_hashes_are_whole_at_a_narrow_width_and_json_is_for_scripts(
    home: Home, parked: dict[str, ApprovalRow]
) -> None:
    path, acme = str(home.path), parked["acme"]
    narrow = cli("--home", path, "approvals", "list", "--token", token(home, "acme"), columns=60)
    assert narrow.exit_code == 0, narrow.stderr
    assert acme.id in narrow.stdout and acme.run_id in narrow.stdout and acme.args_hash in narrow.stdout
    listed = cli("--home", path, "-o", "json", "approvals", "list", "--token", token(home, "acme"))
    assert listed.exit_code == 0, listed.stderr
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert rows[acme.id]["args_hash"] == acme.args_hash and rows[acme.id]["arguments"] == acme.arguments
    shown = cli("--home", path, "-o", "json", "approvals", "show", acme.id, "--token", token(home, "acme"))
    assert json.loads(shown.stdout)["id"] == acme.id and json.loads(shown.stdout)["arguments_changed"] is False


def test_the_local_operator_lists_every_tenants_approvals_without_a_token(
    home: Home, parked: dict[str, ApprovalRow]
) -> None:
    path = str(home.path)
    listed = cli("--home", path, "approvals", "list")
    assert listed.exit_code == 0, listed.stderr
    assert "(every tenant)" in listed.stdout
    assert parked["acme"].id in listed.stdout and parked["northwind"].id in listed.stdout
    rows = json.loads(cli("--home", path, "-o", "json", "approvals", "list", "--tenant", "acme").stdout)
    assert parked["acme"].id in {r["id"] for r in rows} and {r["tenant"] for r in rows} == {"acme"}
    unknown = cli("--home", path, "approvals", "list", "--tenant", "globex")
    assert unknown.exit_code == 1 and "not_found" in unknown.stderr
    # a token still sees its own tenant's only, and names no other
    other = cli("--home", path, "approvals", "list", "--tenant", "northwind", "--token", token(home, "acme"))
    assert other.exit_code == 1 and "not_found" in other.stderr and parked["northwind"].id not in other.stdout
    shown = cli("--home", path, "approvals", "show", parked["northwind"].id)
    assert shown.exit_code == 0 and f"hash: {parked['northwind'].args_hash}" in shown.stdout


def test_the_local_operator_rejects_without_a_token_and_the_audit_names_them(
    home: Home, parked: dict[str, ApprovalRow]
) -> None:
    import getpass

    acme = parked["acme"]
    rejected = cli("--home", str(home.path), "approvals", "reject", acme.id, "--hash", acme.args_hash)
    assert rejected.exit_code == 0 and f"{acme.id}: rejected" in rejected.stdout, rejected.stderr
    assert stored(home, acme.id) == ("rejected", "escalated")
    store = Store(home.coordinator_db)
    try:
        trail = store.audit_trail(acme.run_id)
        decided_by = store.approval(acme.id).decided_by
    finally:
        store.dispose()
    operator = f"local:{getpass.getuser()}"
    assert decided_by == operator
    assert [(e.actor, e.decision, e.outcome) for e in trail if e.actor == operator] == [
        (operator, "approval rejected", acme.id)
    ]


def test_without_the_homes_signing_key_listing_and_deciding_need_a_token(
    home: Home, parked: dict[str, ApprovalRow], tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "home"
    shutil.copytree(home.path, copy)
    (copy / "keys" / "signing-key.pem").unlink()  # this user holds the home's data, not its key
    path, acme = str(copy), parked["acme"]
    anonymous = cli("--home", path, "approvals", "list")
    assert anonymous.exit_code == 1 and "unauthenticated" in anonymous.stderr and "give --token" in anonymous.stderr
    refused = cli("--home", path, "approvals", "reject", acme.id, "--hash", acme.args_hash)
    assert refused.exit_code == 1 and "unauthenticated" in refused.stderr
    assert stored(home, acme.id) == ("pending", "awaiting_approval")
    listed = cli("--home", path, "approvals", "list", "--token", token(home, "acme"))  # minted where the key is
    assert listed.exit_code == 0 and acme.id in listed.stdout
