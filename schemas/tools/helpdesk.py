"""The helpdesk server's tools: tickets, routing, internal notes and drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas._common import Email, LongText, Priority, RecordId, ShortText, Slug
from schemas._tools import Input, Output, ToolSpec

TicketStatus = Literal["new", "open", "pending", "solved", "closed"]


class Ticket(Output):
    id: str
    customer_email: str
    subject: str
    body: str
    status: TicketStatus
    category: str | None
    priority: Priority | None
    queue: str | None
    source_message_id: str | None
    created_at: datetime
    updated_at: datetime


class TicketList(Output):
    items: list[Ticket]


class Note(Output):
    id: str
    ticket_id: str
    body: str
    author: str
    created_at: datetime


class TicketDraft(Output):
    id: str
    ticket_id: str
    subject: str
    body: str
    created_at: datetime


class GetTicketIn(Input):
    ticket_id: RecordId


class SearchTicketsIn(Input):
    query: ShortText | None = None
    """Words that must all appear in the subject or body (case-insensitive)."""
    customer_email: Email | None = None
    status: TicketStatus | None = None
    source_message_id: RecordId | None = None
    """The mailbox message a ticket was opened for (at most one ticket per message)."""
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class CreateTicketIn(Input):
    customer_email: Email
    subject: ShortText
    body: LongText
    category: Slug | None = None
    priority: Priority | None = None
    source_message_id: RecordId | None = None


class UpdateTicketIn(Input):
    ticket_id: RecordId
    category: Slug | None = None
    priority: Priority | None = None
    status: TicketStatus | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateTicketIn:
        if self.category is None and self.priority is None and self.status is None:
            raise ValueError("give at least one of category, priority, status")
        return self


class RouteTicketIn(Input):
    ticket_id: RecordId
    queue: Slug


class AddInternalNoteIn(Input):
    ticket_id: RecordId
    body: LongText


class AttachDraftIn(Input):
    ticket_id: RecordId
    body: LongText
    subject: ShortText | None = None


GET_TICKET = ToolSpec(
    server="helpdesk",
    name="get_ticket",
    title="Get a ticket",
    description="One ticket with its status, category, priority and queue.",
    scope="helpdesk:read",
    side_effect="read",
    input=GetTicketIn,
    output=Ticket,
    idempotent=True,
)
SEARCH_TICKETS = ToolSpec(
    server="helpdesk",
    name="search_tickets",
    title="Search tickets",
    description="This tenant's tickets matching all the filters given, newest first.",
    scope="helpdesk:read",
    side_effect="read",
    input=SearchTicketsIn,
    output=TicketList,
    idempotent=True,
)
CREATE_TICKET = ToolSpec(
    server="helpdesk",
    name="create_ticket",
    title="Create a ticket",
    description="Open a ticket for a customer's request. Send an idempotency key.",
    scope="helpdesk:write",
    side_effect="write",
    input=CreateTicketIn,
    output=Ticket,
)
UPDATE_TICKET = ToolSpec(
    server="helpdesk",
    name="update_ticket",
    title="Update a ticket",
    description="Set a ticket's category, priority or status.",
    scope="helpdesk:write",
    side_effect="write",
    input=UpdateTicketIn,
    output=Ticket,
    idempotent=True,
)
ROUTE_TICKET = ToolSpec(
    server="helpdesk",
    name="route_ticket",
    title="Route a ticket to a queue",
    description="Put a ticket in a team's queue.",
    scope="helpdesk:write",
    side_effect="write",
    input=RouteTicketIn,
    output=Ticket,
    idempotent=True,
)
ADD_INTERNAL_NOTE = ToolSpec(
    server="helpdesk",
    name="add_internal_note",
    title="Add an internal note",
    description="A note on the ticket that only staff see. Send an idempotency key.",
    scope="helpdesk:write",
    side_effect="write",
    input=AddInternalNoteIn,
    output=Note,
)
ATTACH_DRAFT = ToolSpec(
    server="helpdesk",
    name="attach_draft",
    title="Attach a draft reply",
    description="Attach a proposed reply to the ticket for a person to review. Send an idempotency key.",
    scope="helpdesk:write",
    side_effect="write",
    input=AttachDraftIn,
    output=TicketDraft,
)

TOOLS = (GET_TICKET, SEARCH_TICKETS, CREATE_TICKET, UPDATE_TICKET, ROUTE_TICKET, ADD_INTERNAL_NOTE, ATTACH_DRAFT)
