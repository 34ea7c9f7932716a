"""The IMAP and SMTP backend: a tenant's mailbox in a real account.

New mail is read from the inbox folder; a draft is appended to the drafts folder (flag `\\Draft`); processed mail
is moved to the processed folder or flagged in place; a reply is sent over SMTP to the message's sender only. Each
call opens its own connection (calls run in worker threads, side by side).

A message's id is made from its Message-ID header (`M-` and a digest), never from its IMAP UID: the same message
read twice, by two watchers, after a restart, or delivered twice has one id, and so one run. A message without the
header gets an id from its sender, date and subject.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import smtplib
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from imap_tools import AND, BaseMailBox, H, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage
from imap_tools.errors import ImapToolsError, MailboxLoginError

from mcp_servers.kit import TenantSession
from mcp_servers.mailbox._models import DraftRow, SentReplyRow
from mcp_servers.mailbox._table import reply_subject
from schemas import ConfigError, ImapMailbox, NotFound, Unavailable
from schemas.tools.mailbox import (
    GetMessageIn,
    ListInboxIn,
    MailDraft,
    MarkProcessedIn,
    Message,
    MessageList,
    MessageSummary,
    SaveDraftIn,
    SendReplyIn,
    SentReply,
)

SUBJECT_MAX, BODY_MAX = 300, 50_000
"""What an inbound email may carry into a run (`schemas.InboundEmail`): longer mail is cut to these."""

_IMAP_ERRORS = (OSError, imaplib.IMAP4.error, ImapToolsError)
_RETRY_AFTER = 5.0


def message_id_of(header: str | None, sender: str, date: str, subject: str) -> str:
    """The record id of a message: a digest of its Message-ID header, else of its sender, date and subject."""
    basis = header.strip() if header and header.strip() else f"{sender}\n{date}\n{subject}"
    return "M-" + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _field(message: MailMessage, name: str) -> str:
    """The first value of a header, or ""."""
    return " ".join(str(message.obj.get(name) or "").split())


def _header(message: MailMessage) -> str | None:
    return _field(message, "message-id") or None


def _id(message: MailMessage) -> str:
    return message_id_of(_header(message), message.from_, message.date_str, message.subject)


def _received(message: MailMessage) -> datetime:
    return message.date if message.date.tzinfo else message.date.replace(tzinfo=UTC)


class ImapBackend:
    """One tenant's account. `check()` logs in, finds the inbox and makes the drafts and processed folders if
    missing, and greets the SMTP server: a mistake in the configuration is told at start-up, naming its field."""

    def __init__(self, tenant: str, account: ImapMailbox, password: str) -> None:
        self.tenant, self.account, self._password = tenant, account, password
        self.field = f"mailbox.{tenant}"
        self._headers: dict[str, str] = {}
        """Record id → Message-ID header, for the ids this process has listed: found again by a header search."""
        self._lock = threading.Lock()

    # -- start-up ---------------------------------------------------------------------------------

    def check(self) -> None:
        account = self.account
        try:
            with self._imap() as box:
                if not box.folder.exists(account.inbox_folder):
                    raise ConfigError(
                        f"{self.field}.inbox_folder: the account has no folder {account.inbox_folder!r}",
                        field=f"{self.field}.inbox_folder",
                    )
                for folder in (account.drafts_folder, account.processed_in):
                    if folder is not None and not box.folder.exists(folder):
                        box.folder.create(folder)
        except Unavailable as exc:
            field = f"{self.field}.{exc.field or 'imap_host'}"
            raise ConfigError(f"{field}: {exc.message}", field=field) from exc
        try:
            with self._smtp():
                pass
        except Unavailable as exc:
            field = f"{self.field}.{exc.field or 'smtp_host'}"
            raise ConfigError(f"{field}: {exc.message}", field=field) from exc

    # -- the tools --------------------------------------------------------------------------------

    def list_inbox(self, args: ListInboxIn, db: TenantSession) -> MessageList:
        del db  # nothing of the account is kept in the database
        found: dict[str, tuple[MailMessage, bool]] = {}
        with self._imap() as box:
            for folder in self._folders():
                moved = self.account.processed_in is not None and args.status != "all"
                if moved and (folder == self.account.processed_in) != (args.status == "processed"):
                    continue  # a folder that holds none of what is asked for
                box.folder.set(folder)
                for message in box.fetch("ALL", mark_seen=False, headers_only=True, bulk=True):
                    record = _id(message)
                    processed = self._processed(folder, message)
                    if args.status != "all" and processed != (args.status == "processed"):
                        continue
                    found.setdefault(record, (message, processed))
        with self._lock:
            self._headers.update({r: h for r, (m, _) in found.items() if (h := _header(m)) is not None})
        ordered = sorted(found.items(), key=lambda item: (_received(item[1][0]), item[0]))[: args.limit]
        return MessageList(items=[self._summary(record, m, p) for record, (m, p) in ordered])

    def get_message(self, args: GetMessageIn, db: TenantSession) -> Message:
        del db
        with self._imap() as box:
            folder, message, _ = self._find(box, args.message_id)
            return self._message(args.message_id, message, self._processed(folder, message))

    def save_draft(self, args: SaveDraftIn, db: TenantSession) -> MailDraft:
        with self._imap() as box:
            _, message, _ = self._find(box, args.message_id)
            draft = self._reply(message, args.subject, args.body)
            box.append(draft.as_bytes(), self.account.drafts_folder, flag_set=[r"\Draft"])
        row = DraftRow(
            tenant_id=db.tenant,
            id=DraftRow.new_id(),
            message_id=args.message_id,
            subject=str(draft["Subject"]),
            body=args.body,
            created_at=datetime.now(UTC),
        )
        db.add(row)
        return MailDraft.model_validate(row, from_attributes=True)

    def mark_processed(self, args: MarkProcessedIn, db: TenantSession) -> Message:
        del db
        account = self.account
        with self._imap() as box:
            folder, message, uids = self._find(box, args.message_id)
            if not self._processed(folder, message):
                box.folder.set(folder)
                if account.processed_in is not None:
                    box.move(uids, account.processed_in)
                else:
                    box.flag(uids, [account.processed_flag or ""], True)
        return self._message(args.message_id, message, True)

    def send_reply(self, args: SendReplyIn, db: TenantSession) -> SentReply:
        with self._imap() as box:
            _, message, _ = self._find(box, args.message_id)
        reply = self._reply(message, args.subject, args.body)
        with self._smtp() as smtp:
            try:
                smtp.send_message(reply)
            except (OSError, smtplib.SMTPException) as exc:
                raise Unavailable(
                    f"the SMTP server at {self.account.smtp_host}:{self.account.smtp_port} did not take the reply: "
                    f"{exc}",
                    retry_after=_RETRY_AFTER,
                ) from exc
        row = SentReplyRow(
            tenant_id=db.tenant,
            id=SentReplyRow.new_id(),
            message_id=args.message_id,
            to=str(reply["To"]),
            subject=str(reply["Subject"]),
            body=args.body,
            sent_at=datetime.now(UTC),
        )
        db.add(row)
        return SentReply.model_validate(row, from_attributes=True)

    # -- reading ----------------------------------------------------------------------------------

    def _folders(self) -> list[str]:
        account = self.account
        return [account.inbox_folder] + ([account.processed_in] if account.processed_in is not None else [])

    def _processed(self, folder: str, message: MailMessage) -> bool:
        if self.account.processed_in is not None:
            return folder == self.account.processed_in
        return self.account.processed_flag in message.flags

    def _find(self, box: BaseMailBox, record: str) -> tuple[str, MailMessage, list[str]]:
        """The message with this id, in full, its folder, and the UIDs of its copies there (a message delivered
        twice is one message): by its Message-ID header when this process has listed it, else by reading the
        folders' headers."""
        with self._lock:
            header = self._headers.get(record)
        searches: list[str] = [str(AND(header=H("Message-ID", header))), "ALL"] if header else ["ALL"]
        for criteria in searches:
            for folder in self._folders():
                box.folder.set(folder)
                found = [
                    m for m in box.fetch(criteria, mark_seen=False, headers_only=True, bulk=True) if _id(m) == record
                ]
                uids = [m.uid for m in found if m.uid]
                full = next(iter(box.fetch(AND(uid=uids[0]), mark_seen=False)), None) if uids else None
                if full is not None:
                    return folder, full, uids
        raise NotFound(f"message {record!r} not found", field="message_id")

    def _summary(self, record: str, message: MailMessage, processed: bool) -> MessageSummary:
        return MessageSummary(
            id=record,
            sender=message.from_,
            subject=message.subject[:SUBJECT_MAX],
            status="processed" if processed else "unprocessed",
            received_at=_received(message),
        )

    def _message(self, record: str, message: MailMessage, processed: bool) -> Message:
        summary = self._summary(record, message, processed)
        return Message(**summary.model_dump(), body=(message.text or message.html)[:BODY_MAX])

    def _reply(self, message: MailMessage, subject: str | None, body: str) -> EmailMessage:
        """A reply to `message`, to its sender only, threaded under it."""
        reply = EmailMessage()
        reply["From"] = self.account.sender
        reply["To"] = message.from_
        reply["Subject"] = subject or reply_subject(message.subject)
        reply["Date"] = formatdate(usegmt=True)
        reply["Message-ID"] = make_msgid(domain=self.account.sender.rpartition("@")[2] or None)
        header = _header(message)
        if header is not None:
            references = _field(message, "references").split()
            reply["In-Reply-To"] = header
            reply["References"] = " ".join([*references, header])
        reply.set_content(body)
        return reply

    # -- connections ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _imap(self) -> Iterator[BaseMailBox]:
        """A logged-in IMAP connection; a failure to reach or use the server is `Unavailable` (retried)."""
        account = self.account
        where = f"the IMAP server at {account.imap_host}:{account.imap_port}"
        box: BaseMailBox
        try:
            if account.imap_tls == "tls":
                box = MailBox(account.imap_host, account.imap_port, timeout=account.timeout_seconds)
            elif account.imap_tls == "starttls":
                box = MailBoxStartTls(account.imap_host, account.imap_port, timeout=account.timeout_seconds)
            else:
                box = MailBoxUnencrypted(account.imap_host, account.imap_port, timeout=account.timeout_seconds)
        except _IMAP_ERRORS as exc:
            raise Unavailable(f"{where} cannot be reached: {exc}", retry_after=_RETRY_AFTER) from exc
        try:
            try:
                box.login(account.user, self._password, initial_folder=None)
            except MailboxLoginError as exc:
                raise Unavailable(
                    f"{where} refused the login of {account.user!r}", field="user", retry_after=_RETRY_AFTER
                ) from exc
            yield box
        except _IMAP_ERRORS as exc:
            raise Unavailable(f"{where} failed: {exc}", retry_after=_RETRY_AFTER) from exc
        finally:
            with contextlib.suppress(*_IMAP_ERRORS):
                box.logout()

    @contextlib.contextmanager
    def _smtp(self) -> Iterator[smtplib.SMTP]:
        """A greeted SMTP connection, logged in when the server offers AUTH."""
        account = self.account
        where = f"the SMTP server at {account.smtp_host}:{account.smtp_port}"
        context = ssl.create_default_context()
        try:
            smtp = (
                smtplib.SMTP_SSL(account.smtp_host, account.smtp_port, timeout=account.timeout_seconds, context=context)
                if account.smtp_tls == "tls"
                else smtplib.SMTP(account.smtp_host, account.smtp_port, timeout=account.timeout_seconds)
            )
        except OSError as exc:
            raise Unavailable(f"{where} cannot be reached: {exc}", retry_after=_RETRY_AFTER) from exc
        with smtp:
            try:
                smtp.ehlo()
                if account.smtp_tls == "starttls":
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if smtp.has_extn("auth"):
                    smtp.login(account.user, self._password)
            except smtplib.SMTPAuthenticationError as exc:
                raise Unavailable(
                    f"{where} refused the login of {account.user!r}", field="user", retry_after=_RETRY_AFTER
                ) from exc
            except OSError as exc:  # smtplib's errors are OSErrors
                raise Unavailable(f"{where} failed: {exc}", retry_after=_RETRY_AFTER) from exc
            yield smtp
