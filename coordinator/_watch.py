"""Watching tenants' mailboxes: each new message becomes a run, once (`deskhand watch`).

A pass lists each tenant's unprocessed mail over MCP (the mailbox server, like any client) and submits each
message as `deskhand submit` would. The run's key is the message's id, which the mailbox makes from its
Message-ID header: a message listed again (on the next pass, by a second watcher, after a restart, or delivered
twice) is the run it already is, and is not reported again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import anyio
from pydantic import BaseModel, ValidationError

from coordinator._home import Home
from coordinator._sessions import SessionPool
from coordinator._submission import home_workflows, submit, workflow_for
from coordinator.store import Store
from schemas import BudgetExhausted, InboundEmail
from schemas.tools import mailbox
from specialists.kit import Manifest


class _Nothing(BaseModel):
    pass


WATCHER = Manifest(
    name="watch",
    version="0.1.0",
    description="Reads tenants' new mail and submits it.",
    input=_Nothing,
    output=_Nothing,
    scopes=("mail:read",),
    model_tier="none",
    max_iterations=0,
)


@dataclass(frozen=True)
class Submitted:
    """A message that became a new run."""

    tenant: str
    run: str
    message_id: str
    subject: str


Note = Callable[[str], None]
"""Told what a pass left for later: a message that is not an email deskhand can take, a tenant at its limit."""


async def submit_new_mail(home: Home, store: Store, pool: SessionPool, tenant: str, note: Note) -> list[Submitted]:
    """One pass over `tenant`'s unprocessed mail: the runs it started (a message already submitted starts none)."""
    workflow = workflow_for(home, home_workflows(home), tenant, "email", None)
    submitted: list[Submitted] = []
    async with pool.session(tenant, WATCHER) as toolbox:
        listed = await toolbox.call(mailbox.LIST_INBOX, mailbox.ListInboxIn(status="unprocessed", limit=200))
        assert isinstance(listed, mailbox.MessageList)
        for item in listed.items:
            message = await toolbox.call(mailbox.GET_MESSAGE, mailbox.GetMessageIn(message_id=item.id))
            assert isinstance(message, mailbox.Message)
            try:
                email = InboundEmail(
                    message_id=message.id, sender=message.sender, subject=message.subject, body=message.body
                )
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                note(
                    f"{tenant}: message {message.id} left in the inbox: {'.'.join(map(str, first['loc']))}: "
                    f"{first['msg']}"
                )
                continue
            try:
                run, new = await anyio.to_thread.run_sync(partial(submit, home, store, tenant, email, workflow))
            except BudgetExhausted as exc:
                note(f"{tenant}: {exc.message}; the rest waits for the next pass")
                break
            if new:
                submitted.append(Submitted(tenant, run, message.id, message.subject))
    return submitted
