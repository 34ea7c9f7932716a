"""`deskhand approvals list|show|approve|reject`: the calls waiting for a person, decided with an approver token."""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio
import typer

from coordinator._home import Home
from coordinator.cli._context import DbOption, globals_of, id_table, noun, out, print_json
from coordinator.store import ApprovalRow, Store
from mcp_servers.kit import JwtVerifier, KeySet
from schemas import Principal, Unauthenticated, args_hash

app = noun("Calls that wait for a person's approval.")

TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        metavar="JWT",
        envvar="DESKHAND_APPROVER_TOKEN",
        show_default=False,
        help="An approver token of the approval's tenant.",
    ),
]
HashOption = Annotated[
    str,
    typer.Option(
        "--hash",
        metavar="SHA256",
        help="The arguments' hash of the call you decide, as `approvals list` or `approvals show` print it.",
    ),
]
ApprovalId = Annotated[str, typer.Argument(metavar="APPROVAL_ID", help="The approval (AP-...).")]


def _row(row: ApprovalRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "run": row.run_id,
        "tenant": row.tenant,
        "tool": row.tool,
        "arguments": row.arguments,
        "why": row.reason,
        "expires": row.expires_at.isoformat(),
        "hash": row.args_hash,
        "result": row.result,
    }


@app.command("list")
def list_(ctx: typer.Context, token: TokenOption = "", db: DbOption = None) -> None:
    """The approvals of the token's tenant waiting for a decision, with the hash a decision names."""
    from coordinator.runtime import check_approver

    options = globals_of(ctx)
    home = options.home()
    principal = anyio.run(_approver, home, token)
    check_approver(principal, principal.tenant)
    store = Store(db or home.coordinator_db)
    try:
        rows = store.approvals(tenant=principal.tenant)
    finally:
        store.dispose()
    if options.json:
        print_json([_row(r) for r in rows])
        return
    table = id_table(
        f"{len(rows)} approvals waiting ({principal.tenant})", ("id", "run"), ("tool", "arguments", "why", "expires")
    )
    for row in rows:
        table.add_row(
            row.id, row.run_id, row.tool, json.dumps(row.arguments), row.reason, f"{row.expires_at:%Y-%m-%d %H:%M}"
        )
    out.print(table)
    if rows:  # a hash is too long for a column of a narrow terminal: each on a line of its own, whole
        out.print("the hash each decision names (--hash):", highlight=False)
        for row in rows:
            out.print(f"  {row.id}  {row.args_hash}", highlight=False, soft_wrap=True)


@app.command("show")
def show(ctx: typer.Context, approval_id: ApprovalId, token: TokenOption = "", db: DbOption = None) -> None:
    """One approval: the exact arguments the call would be made with, and their hash."""
    from coordinator.cli._context import err
    from coordinator.runtime import check_approver

    options = globals_of(ctx)
    home = options.home()
    principal = anyio.run(_approver, home, token)
    store = Store(db or home.coordinator_db)
    try:
        row = store.approval(approval_id)
    finally:
        store.dispose()
    check_approver(principal, row.tenant)
    changed = args_hash(row.arguments) != row.args_hash
    if options.json:
        print_json({**_row(row), "arguments_changed": changed})
    else:
        out.print(
            f"{row.id} ({row.status}) run {row.run_id}, tenant {row.tenant}\n"
            f"tool: {row.tool}\nwhy: {row.reason}\nexpires: {row.expires_at:%Y-%m-%d %H:%M} UTC\n"
            f"hash: {row.args_hash}\narguments:\n{json.dumps(row.arguments, indent=2, ensure_ascii=False)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if changed:
        err.print(
            f"warning: these arguments' hash is {args_hash(row.arguments)}, not the one proposed: "
            "they were changed in the store, and approving will not make the call",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


@app.command("approve")
def approve(
    ctx: typer.Context, approval_id: ApprovalId, seen_hash: HashOption, token: TokenOption = "", db: DbOption = None
) -> None:
    """Approve: the exact call that was parked (the one with this hash) runs, once."""
    _decide(ctx, approval_id, db, token, seen_hash, approve=True)


@app.command("reject")
def reject(
    ctx: typer.Context, approval_id: ApprovalId, seen_hash: HashOption, token: TokenOption = "", db: DbOption = None
) -> None:
    """Reject: the call never runs and the run is escalated."""
    _decide(ctx, approval_id, db, token, seen_hash, approve=False)


def _decide(ctx: typer.Context, approval_id: str, db: str | None, token: str, seen_hash: str, *, approve: bool) -> None:
    from coordinator._service import issuer_of
    from coordinator._sessions import SessionPool, http_connector
    from coordinator.cli._context import err
    from coordinator.models import OfflineModel
    from coordinator.runtime import Runtime, check_approver

    options = globals_of(ctx)
    home = options.home()

    async def main() -> ApprovalRow:
        principal = await _approver(home, token)
        store = Store(db or home.coordinator_db)
        try:
            check_approver(principal, store.approval(approval_id).tenant)
            # deciding needs the store and, to make an approved call, that one tool's server: not the
            # specialists' sessions nor the tenants' policies (which `open_runtime` fetches from every server)
            connect = http_connector({n: s.url for n, s in home.servers.items()}, issuer_of(home))
            async with SessionPool(connect) as pool:
                runtime = Runtime(store=store, specialists={}, pool=pool, model=OfflineModel(), policies={})
                return await runtime.decide(
                    approval_id,
                    tenant=principal.tenant,
                    actor=principal.subject,
                    approve=approve,
                    seen_hash=seen_hash,
                    connect_tool=connect,
                )
        finally:
            store.dispose()

    row = anyio.run(main)
    if options.json:
        print_json(_row(row))
    text = f"{row.id}: {row.status}" + (f" → {json.dumps(row.result)}" if row.result else "")
    if row.status == "failed":  # decided, but the call was not made: say so, and exit non-zero
        err.print(f"{text}\nthe run is escalated", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1)
    if not options.json:
        out.print(text, highlight=False, markup=False, soft_wrap=True)


async def _approver(home: Home, token: str) -> Principal:
    """The principal of an approver token for this home's approvals audience (its role is checked per approval)."""
    if not token:
        raise Unauthenticated(
            "give --token (or $DESKHAND_APPROVER_TOKEN): an approver token, e.g. "
            f"`deskhand token mint --tenant T --role approver --audience {home.approvals_audience}`"
        )
    verifier = JwtVerifier(KeySet.from_file(home.jwks_path), issuer=home.issuer, audience=home.approvals_audience)
    return await verifier.verify_principal(token)
