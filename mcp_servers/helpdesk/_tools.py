"""The helpdesk server's tool handlers: plain functions in a tenant-bound session."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlmodel import col, or_

from mcp_servers.helpdesk._models import DraftRow, NoteRow, TicketRow
from mcp_servers.kit import GuardedServer, TenantSession, current_call
from schemas import Conflict, InvalidArgument
from schemas.tools import helpdesk
from schemas.tools.helpdesk import (
    AddInternalNoteIn,
    AttachDraftIn,
    CreateTicketIn,
    GetTicketIn,
    Note,
    RouteTicketIn,
    SearchTicketsIn,
    Ticket,
    TicketDraft,
    TicketList,
    UpdateTicketIn,
)

_WORD = re.compile(r"\w+")


def _ticket(row: TicketRow) -> Ticket:
    return Ticket.model_validate(row, from_attributes=True)


def _reply_subject(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _touch(ticket: TicketRow, db: TenantSession) -> datetime:
    now = datetime.now(UTC)
    ticket.updated_at = now
    db.add(ticket)
    return now


def get_ticket(args: GetTicketIn, db: TenantSession) -> Ticket:
    return _ticket(db.one(TicketRow, args.ticket_id, what="ticket"))


def search_tickets(args: SearchTicketsIn, db: TenantSession) -> TicketList:
    query = db.select(TicketRow)
    if args.query is not None:
        words = _WORD.findall(args.query)
        if not words:
            raise InvalidArgument("query has no words to search for (letters or digits)", field="query")
        for word in words:
            query = query.where(
                or_(
                    col(TicketRow.subject).icontains(word, autoescape=True),
                    col(TicketRow.body).icontains(word, autoescape=True),
                )
            )
    if args.customer_email is not None:
        query = query.where(TicketRow.customer_email == args.customer_email)
    if args.status is not None:
        query = query.where(TicketRow.status == args.status)
    if args.source_message_id is not None:
        query = query.where(TicketRow.source_message_id == args.source_message_id)
    rows = db.exec(query.order_by(col(TicketRow.created_at).desc(), col(TicketRow.id).desc()).limit(args.limit)).all()
    return TicketList(items=[_ticket(r) for r in rows])


def create_ticket(args: CreateTicketIn, db: TenantSession) -> Ticket:
    if args.source_message_id is not None:
        existing = db.exec(db.select(TicketRow).where(TicketRow.source_message_id == args.source_message_id)).first()
        if existing is not None:
            raise Conflict(
                f"message {args.source_message_id!r} already has ticket {existing.id!r}",
                field="source_message_id",
            )
    now = datetime.now(UTC)
    row = TicketRow(
        tenant_id=db.tenant,
        id=TicketRow.new_id(),
        customer_email=args.customer_email,
        subject=args.subject,
        body=args.body,
        status="new",
        category=args.category,
        priority=args.priority,
        source_message_id=args.source_message_id,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    return _ticket(row)


def update_ticket(args: UpdateTicketIn, db: TenantSession) -> Ticket:
    row = db.one(TicketRow, args.ticket_id, what="ticket")
    if args.category is not None:
        row.category = args.category
    if args.priority is not None:
        row.priority = args.priority
    if args.status is not None:
        row.status = args.status
    _touch(row, db)
    return _ticket(row)


def route_ticket(args: RouteTicketIn, db: TenantSession) -> Ticket:
    row = db.one(TicketRow, args.ticket_id, what="ticket")
    row.queue = args.queue
    _touch(row, db)
    return _ticket(row)


def add_internal_note(args: AddInternalNoteIn, db: TenantSession) -> Note:
    ticket = db.one(TicketRow, args.ticket_id, what="ticket")
    row = NoteRow(
        tenant_id=db.tenant,
        id=NoteRow.new_id(),
        ticket_id=ticket.id,
        body=args.body,
        author=current_call().principal.subject,
        created_at=_touch(ticket, db),
    )
    db.add(row)
    return Note.model_validate(row, from_attributes=True)


def attach_draft(args: AttachDraftIn, db: TenantSession) -> TicketDraft:
    ticket = db.one(TicketRow, args.ticket_id, what="ticket")
    row = DraftRow(
        tenant_id=db.tenant,
        id=DraftRow.new_id(),
        ticket_id=ticket.id,
        subject=args.subject or _reply_subject(ticket.subject),
        body=args.body,
        created_at=_touch(ticket, db),
    )
    db.add(row)
    return TicketDraft.model_validate(row, from_attributes=True)


def register(server: GuardedServer) -> None:
    server.add_tool(helpdesk.GET_TICKET, get_ticket)
    server.add_tool(helpdesk.SEARCH_TICKETS, search_tickets)
    server.add_tool(helpdesk.CREATE_TICKET, create_ticket)
    server.add_tool(helpdesk.UPDATE_TICKET, update_ticket)
    server.add_tool(helpdesk.ROUTE_TICKET, route_ticket)
    server.add_tool(helpdesk.ADD_INTERNAL_NOTE, add_internal_note)
    server.add_tool(helpdesk.ATTACH_DRAFT, attach_draft)
