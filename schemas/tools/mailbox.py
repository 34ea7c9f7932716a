"""The mailbox server's tools: the inbox, drafts, and replies (sending needs approval)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from schemas._common import LongText, RecordId, ShortText
from schemas._tools import Input, Output, ToolSpec

MessageStatus = Literal["unprocessed", "processed"]


class Message(Output):
    id: str
    sender: str
    subject: str
    body: str
    status: MessageStatus
    received_at: datetime


class MessageSummary(Output):
    id: str
    sender: str
    subject: str
    status: MessageStatus
    received_at: datetime


class MessageList(Output):
    items: list[MessageSummary]


class MailDraft(Output):
    id: str
    message_id: str
    subject: str
    body: str
    created_at: datetime


class SentReply(Output):
    id: str
    message_id: str
    to: str
    subject: str
    body: str
    sent_at: datetime


class ListInboxIn(Input):
    status: MessageStatus | Literal["all"] = "unprocessed"
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class GetMessageIn(Input):
    message_id: RecordId


class SaveDraftIn(Input):
    message_id: RecordId
    body: LongText
    subject: ShortText | None = None


class MarkProcessedIn(Input):
    message_id: RecordId


class SendReplyIn(Input):
    message_id: RecordId
    body: LongText
    subject: ShortText | None = None


LIST_INBOX = ToolSpec(
    server="mailbox",
    name="list_inbox",
    title="List the inbox",
    description="Messages in this tenant's inbox, oldest first.",
    scope="mail:read",
    side_effect="read",
    input=ListInboxIn,
    output=MessageList,
    idempotent=True,
)
GET_MESSAGE = ToolSpec(
    server="mailbox",
    name="get_message",
    title="Get a message",
    description="One inbound message in full.",
    scope="mail:read",
    side_effect="read",
    input=GetMessageIn,
    output=Message,
    idempotent=True,
)
SAVE_DRAFT = ToolSpec(
    server="mailbox",
    name="save_draft",
    title="Save a draft reply",
    description="Save a reply to a message as a draft; nothing is sent. Send an idempotency key.",
    scope="mail:draft",
    side_effect="write",
    input=SaveDraftIn,
    output=MailDraft,
)
MARK_PROCESSED = ToolSpec(
    server="mailbox",
    name="mark_processed",
    title="Mark a message processed",
    description="Take a message out of the unprocessed inbox.",
    scope="mail:draft",
    side_effect="write",
    input=MarkProcessedIn,
    output=Message,
    idempotent=True,
)
SEND_REPLY = ToolSpec(
    server="mailbox",
    name="send_reply",
    title="Send a reply",
    description="Send a reply to the message's sender (only to the sender). Agents need a person's approval.",
    scope="mail:send",
    side_effect="write",
    input=SendReplyIn,
    output=SentReply,
    approval=True,
    destructive=True,
)

TOOLS = (LIST_INBOX, GET_MESSAGE, SAVE_DRAFT, MARK_PROCESSED, SEND_REPLY)
