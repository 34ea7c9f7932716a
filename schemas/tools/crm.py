"""The CRM server's tools: customers, accounts, interactions and credits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas._common import Email, Plan, RecordId, ShortText
from schemas._tools import Input, Output, ToolSpec


class Customer(Output):
    id: str
    email: str
    name: str
    phone: str | None
    account_id: str
    plan: Plan


class Account(Output):
    id: str
    name: str
    plan: Plan
    status: Literal["active", "suspended", "closed"]
    credit_balance_cents: int


class Interaction(Output):
    id: str
    account_id: str
    channel: str
    summary: str
    created_at: datetime


class Credit(Output):
    id: str
    account_id: str
    amount_cents: int
    reason: str
    created_at: datetime


class FindCustomerIn(Input):
    email: Email


class FindCustomerOut(Output):
    customer: Customer | None
    """None when no customer of this tenant has that address."""


class GetAccountIn(Input):
    account_id: RecordId


class ListInteractionsIn(Input):
    account_id: RecordId
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class InteractionList(Output):
    items: list[Interaction]


class LogInteractionIn(Input):
    account_id: RecordId
    channel: Literal["email", "phone", "chat", "note"] = "email"
    summary: Annotated[str, Field(min_length=1, max_length=2000)]


class UpdateContactIn(Input):
    customer_id: RecordId
    name: ShortText | None = None
    phone: ShortText | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateContactIn:
        if self.name is None and self.phone is None:
            raise ValueError("give at least one of name, phone")
        return self


class IssueCreditIn(Input):
    account_id: RecordId
    amount_cents: Annotated[int, Field(gt=0, le=100_000)]
    reason: ShortText


FIND_CUSTOMER = ToolSpec(
    server="crm",
    name="find_customer",
    title="Find a customer by email",
    description="Look up this tenant's customer by email address. Returns customer=null when there is none.",
    scope="crm:read",
    side_effect="read",
    input=FindCustomerIn,
    output=FindCustomerOut,
    idempotent=True,
)
GET_ACCOUNT = ToolSpec(
    server="crm",
    name="get_account",
    title="Get an account",
    description="An account's plan, status and credit balance.",
    scope="crm:read",
    side_effect="read",
    input=GetAccountIn,
    output=Account,
    idempotent=True,
)
LIST_INTERACTIONS = ToolSpec(
    server="crm",
    name="list_interactions",
    title="List an account's interactions",
    description="The most recent interactions with an account, newest first.",
    scope="crm:read",
    side_effect="read",
    input=ListInteractionsIn,
    output=InteractionList,
    idempotent=True,
)
LOG_INTERACTION = ToolSpec(
    server="crm",
    name="log_interaction",
    title="Log an interaction",
    description="Record a contact with the account (an email handled, a call). Send an idempotency key.",
    scope="crm:write",
    side_effect="write",
    input=LogInteractionIn,
    output=Interaction,
)
UPDATE_CONTACT = ToolSpec(
    server="crm",
    name="update_contact",
    title="Update a customer's contact details",
    description="Change a customer's name or phone number.",
    scope="crm:write",
    side_effect="write",
    input=UpdateContactIn,
    output=Customer,
    idempotent=True,
)
ISSUE_CREDIT = ToolSpec(
    server="crm",
    name="issue_credit",
    title="Issue an account credit",
    description="Credit money to an account. Moves money: agents need a person's approval.",
    scope="crm:credit",
    side_effect="write",
    input=IssueCreditIn,
    output=Credit,
    approval=True,
    destructive=True,
)

TOOLS = (FIND_CUSTOMER, GET_ACCOUNT, LIST_INTERACTIONS, LOG_INTERACTION, UPDATE_CONTACT, ISSUE_CREDIT)
