"""The CRM server's tool handlers: plain functions in a tenant-bound session."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col

from mcp_servers.crm._models import AccountRow, CreditRow, CustomerRow, InteractionRow
from mcp_servers.kit import GuardedServer, TenantSession
from schemas.tools import crm
from schemas.tools.crm import (
    Account,
    Credit,
    Customer,
    FindCustomerIn,
    FindCustomerOut,
    GetAccountIn,
    Interaction,
    InteractionList,
    IssueCreditIn,
    ListInteractionsIn,
    LogInteractionIn,
    UpdateContactIn,
)


def _customer(row: CustomerRow) -> Customer:
    return Customer.model_validate(row, from_attributes=True)


def find_customer(args: FindCustomerIn, db: TenantSession) -> FindCustomerOut:
    row = db.exec(db.select(CustomerRow).where(CustomerRow.email == args.email)).first()
    return FindCustomerOut(customer=_customer(row) if row else None)


def get_account(args: GetAccountIn, db: TenantSession) -> Account:
    return Account.model_validate(db.one(AccountRow, args.account_id, what="account"), from_attributes=True)


def list_interactions(args: ListInteractionsIn, db: TenantSession) -> InteractionList:
    db.one(AccountRow, args.account_id, what="account")
    rows = db.exec(
        db.select(InteractionRow)
        .where(InteractionRow.account_id == args.account_id)
        .order_by(col(InteractionRow.created_at).desc())
        .limit(args.limit)
    ).all()
    return InteractionList(items=[Interaction.model_validate(r, from_attributes=True) for r in rows])


def log_interaction(args: LogInteractionIn, db: TenantSession) -> Interaction:
    db.one(AccountRow, args.account_id, what="account")
    row = InteractionRow(
        tenant_id=db.tenant,
        id=InteractionRow.new_id(),
        account_id=args.account_id,
        channel=args.channel,
        summary=args.summary,
        created_at=datetime.now(UTC),
    )
    db.add(row)
    return Interaction.model_validate(row, from_attributes=True)


def update_contact(args: UpdateContactIn, db: TenantSession) -> Customer:
    row = db.one(CustomerRow, args.customer_id, what="customer")
    if args.name is not None:
        row.name = args.name
    if args.phone is not None:
        row.phone = args.phone
    db.add(row)
    return _customer(row)


def issue_credit(args: IssueCreditIn, db: TenantSession) -> Credit:
    account = db.one(AccountRow, args.account_id, what="account")
    row = CreditRow(
        tenant_id=db.tenant,
        id=CreditRow.new_id(),
        account_id=account.id,
        amount_cents=args.amount_cents,
        reason=args.reason,
        created_at=datetime.now(UTC),
    )
    # One atomic UPDATE, so concurrent credits add up instead of overwriting each other.
    db.exec(
        db.update(AccountRow)
        .where(col(AccountRow.id) == account.id)
        .values(credit_balance_cents=col(AccountRow.credit_balance_cents) + args.amount_cents)
    )
    db.add(row)
    return Credit.model_validate(row, from_attributes=True)


def register(server: GuardedServer) -> None:
    server.add_tool(crm.FIND_CUSTOMER, find_customer)
    server.add_tool(crm.GET_ACCOUNT, get_account)
    server.add_tool(crm.LIST_INTERACTIONS, list_interactions)
    server.add_tool(crm.LOG_INTERACTION, log_interaction)
    server.add_tool(crm.UPDATE_CONTACT, update_contact)
    server.add_tool(crm.ISSUE_CREDIT, issue_credit)
