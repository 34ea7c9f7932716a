"""`deskhand approvals list|show|approve|reject`: the calls waiting for a person. Whoever holds the home (can read
its signing key) decides as its local operator, for any tenant; a remote approver gives a tenant's approver token."""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from typing import Annotated

import anyio
import typer

from coordinator._home import Home
from coordinator._tokens import DevKeys, signing_key_variable
from coordinator.cli._context import DbOption, globals_of, id_table, noun, out, print_json
from coordinator.store import ApprovalRow, Store
from coordinator.views import approval_detail
from mcp_servers.kit import JwtVerifier, KeySet
from schemas import ConfigError, NotFound, Principal, Unauthenticated, args_hash

app = noun("Calls that wait for a person's approval.")

TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        metavar="JWT",
        envvar="DESKHAND_APPROVER_TOKEN",
        show_default=False,
        help="A remote approver's token of the approval's tenant (without one: the home's local operator).",
    ),
]
TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", metavar="T", show_default=False, help="Only this tenant's approvals (default: all)."),
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


@app.command("list")
def list_(ctx: typer.Context, tenant: TenantOption = None, token: TokenOption = "", db: DbOption = None) -> None:
    """The approvals waiting for a decision (the local operator: every tenant's, or --tenant's; a token: its
    tenant's), with the hash a decision names."""
    options = globals_of(ctx)
    home = options.home()
    approver = anyio.run(_approver, home, token)
    tenant = approver.tenant_filter(home, tenant)
    store = Store(db or home.coordinator_db)
    try:
        rows = store.approvals(tenant=tenant)
    finally:
        store.dispose()
    if options.json:
        print_json([approval_detail(r) for r in rows])
        return
    columns = ("tool", "arguments", "why", "expires") if tenant else ("tenant", "tool", "arguments", "why", "expires")
    table = id_table(f"{len(rows)} approvals waiting ({tenant or 'every tenant'})", ("id", "run"), columns)
    for row in rows:
        cells = (row.tool, json.dumps(row.arguments), row.reason, f"{row.expires_at:%Y-%m-%d %H:%M}")
        table.add_row(row.id, row.run_id, *(cells if tenant else (row.tenant, *cells)))
    out.print(table)
    if rows:  # a hash is too long for a column of a narrow terminal: each on a line of its own, whole
        out.print("the hash each decision names (--hash):", highlight=False)
        for row in rows:
            out.print(f"  {row.id}  {row.args_hash}", highlight=False, soft_wrap=True)


@app.command("show")
def show(ctx: typer.Context, approval_id: ApprovalId, token: TokenOption = "", db: DbOption = None) -> None:
    """One approval: the exact arguments the call would be made with, and their hash."""
    from coordinator.cli._context import err

    options = globals_of(ctx)
    home = options.home()
    approver = anyio.run(_approver, home, token)
    store = Store(db or home.coordinator_db)
    try:
        row = store.approval(approval_id)
    finally:
        store.dispose()
    approver.check(row.tenant)
    changed = args_hash(row.arguments) != row.args_hash
    if options.json:
        print_json(approval_detail(row))
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
    from coordinator._service import routes_of
    from coordinator._sessions import SessionPool, http_connector
    from coordinator.cli._context import err
    from coordinator.models import OfflineModel
    from coordinator.runtime import Runtime
    from mcp_servers.kit import setup_tracing

    options = globals_of(ctx)
    home = options.home()
    setup_tracing("deskhand-coordinator")  # an approved call continues its run's trace

    async def main() -> ApprovalRow:
        approver = await _approver(home, token)
        store = Store(db or home.coordinator_db)
        try:
            tenant = store.approval(approval_id).tenant
            approver.check(tenant)
            # deciding needs the store and, to make an approved call, that one tool's server: not the
            # specialists' sessions nor the tenants' policies (which `open_runtime` fetches from every server)
            connect = http_connector(routes_of(home))
            async with SessionPool(connect) as pool:
                runtime = Runtime(store=store, specialists={}, pool=pool, model=OfflineModel(), policies={})
                return await runtime.decide(
                    approval_id,
                    tenant=tenant,
                    actor=approver.actor,
                    approve=approve,
                    seen_hash=seen_hash,
                    connect_tool=connect,
                )
        finally:
            store.dispose()

    row = anyio.run(main)
    if options.json:
        print_json(approval_detail(row))
    text = f"{row.id}: {row.status}" + (f" → {json.dumps(row.result)}" if row.result else "")
    if row.status == "failed":  # decided, but the call was not made: say so, and exit non-zero
        err.print(f"{text}\nthe run is escalated", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1)
    if not options.json:
        out.print(text, highlight=False, markup=False, soft_wrap=True)


@dataclass(frozen=True)
class _Approver:
    """Who decides: a remote approver (the principal of a tenant's approver token), or the home's local
    operator (`principal` None), who may see and decide every tenant's approvals."""

    actor: str
    """Recorded in the audit trail as who decided, and carried by the approved call's token."""
    principal: Principal | None = None

    def check(self, tenant: str) -> None:
        """May decide an approval of `tenant` (another tenant's is `not_found` to a token)."""
        from coordinator.runtime import check_approver

        if self.principal is not None:
            check_approver(self.principal, tenant)

    def tenant_filter(self, home: Home, tenant: str | None) -> str | None:
        """The tenant whose approvals are listed: a token's own; the local operator's --tenant, or all (None)."""
        if self.principal is not None:
            self.check(self.principal.tenant)
            if tenant not in (None, self.principal.tenant):
                raise NotFound(f"--tenant {tenant!r}: not found", field="tenant")
            return self.principal.tenant
        if tenant is not None and tenant not in home.tenants:
            raise NotFound(f"--tenant {tenant!r}: not loaded here; known: {list(home.tenants)}", field="tenant")
        return tenant


async def _approver(home: Home, token: str) -> _Approver:
    """With a token: its principal, verified for this home's approvals audience (its role and tenant are checked
    per approval). Without: the local operator, if this user can read the home's signing key."""
    if token:
        verifier = JwtVerifier(KeySet.from_file(home.jwks_path), issuer=home.issuer, audience=home.approvals_audience)
        principal = await verifier.verify_principal(token)
        return _Approver(principal.subject, principal)
    user = getpass.getuser()
    try:
        DevKeys.load(home.keys_dir, variable=signing_key_variable())
    except ConfigError as exc:
        raise Unauthenticated(
            f"{user} cannot act as this home's local operator ({exc.message}): run as the home's owner, or give "
            f"--token (or $DESKHAND_APPROVER_TOKEN), a remote approver's token of the approval's tenant"
        ) from exc
    return _Approver(f"local:{user}")
