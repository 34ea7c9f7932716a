"""The CRM writer: apply the decided writes, each once, with an idempotency key.

No model: the writes follow from the triage and the draft. Each key is
hash(run, step, tool, arguments), so a run that is retried (a worker died, a call timed out)
repeats the same keys and the servers answer with what they recorded instead of writing twice.
Actions the policy reserves for a person are never made here; they are reported as skipped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel

from schemas import AppliedWrite, Conflict, ToolSpec, WriteReport, WriterInput
from schemas.tools import crm, helpdesk, mailbox
from specialists.kit import Manifest, SpecialistContext, call, gather

Write = Callable[[str, ToolSpec, BaseModel], Awaitable[BaseModel]]
"""Make one write with its idempotency key (`step` names it within the handoff) and list it in the report."""


class CrmWriterSpecialist:
    manifest = Manifest(
        name="crm_writer",
        version="0.1.0",
        description="Apply the decided writes (ticket, routing, note, draft, interaction) with idempotency keys.",
        input=WriterInput,
        output=WriteReport,
        scopes=("helpdesk:read", "helpdesk:write", "crm:write", "mail:draft"),
        model_tier="none",
        max_iterations=0,
    )

    async def run(self, task: WriterInput, ctx: SpecialistContext) -> WriteReport:
        # each write's entry in the report; calls made at once are listed in the order they were made
        writes: list[AppliedWrite | None] = []  # None: a write that failed (not reported)

        async def write(step: str, spec: ToolSpec, args: BaseModel) -> BaseModel:
            key = ctx.idempotency_key(step, spec.qualified_name, args)
            entry = len(writes)
            writes.append(None)
            result = await ctx.toolbox.call(spec, args, key=key)
            writes[entry] = AppliedWrite(
                tool=spec.qualified_name, idempotency_key=key, result_id=getattr(result, "id", None)
            )
            return result

        triage, draft = task.triage, task.draft
        email = triage.email
        ticket_id = await self._ticket(task, ctx, write)
        note = "\n".join(
            [
                f"Triage: {triage.classification.category} (confidence {triage.classification.confidence:.2f}), "
                f"{triage.priority} by {triage.priority_rule}, queue {triage.queue}.",
                *(f"Escalation: {r}" for r in triage.escalation_reasons),
                *(
                    f"Compliance {verdict.verdict}: {r}"
                    for verdict in [task.verdict]
                    if verdict
                    for r in verdict.reasons
                ),
                *(f"Draft: {r}" for r in (draft.reasons if draft else [])),
            ]
        )[:20_000]
        # the writes that need only the ticket: made at once
        then = [
            write("route", helpdesk.ROUTE_TICKET, helpdesk.RouteTicketIn(ticket_id=ticket_id, queue=triage.queue)),
            write("note", helpdesk.ADD_INTERNAL_NOTE, helpdesk.AddInternalNoteIn(ticket_id=ticket_id, body=note)),
        ]
        if draft is not None:
            then.append(
                write(
                    "attach",
                    helpdesk.ATTACH_DRAFT,
                    helpdesk.AttachDraftIn(ticket_id=ticket_id, body=draft.body, subject=draft.subject),
                )
            )
            if email.message_id:
                then.append(
                    write(
                        "save_draft",
                        mailbox.SAVE_DRAFT,
                        mailbox.SaveDraftIn(message_id=email.message_id, body=draft.body, subject=draft.subject),
                    )
                )
        if triage.customer is not None:
            summary = f"Email '{email.subject}' triaged as {triage.classification.category}, ticket {ticket_id}."
            then.append(
                write(
                    "log",
                    crm.LOG_INTERACTION,
                    crm.LogInteractionIn(account_id=triage.customer.account_id, channel="email", summary=summary),
                )
            )
        await gather(*then)
        for action in task.actions:
            writes.append(
                AppliedWrite(
                    tool=action.tool,
                    idempotency_key="",
                    result_id=None,
                    outcome="skipped",
                    reason="needs a person's approval"
                    if action.tool in ctx.policy.approval_required_tools
                    else "not a write the CRM writer makes",
                )
            )
        if email.message_id:
            # last, once everything else is written: a processed message is one nothing is left to do for
            await write("processed", mailbox.MARK_PROCESSED, mailbox.MarkProcessedIn(message_id=email.message_id))
        return WriteReport(ticket_id=ticket_id, writes=[w for w in writes if w is not None])

    async def _ticket(self, task: WriterInput, ctx: SpecialistContext, write: Write) -> str:
        triage = task.triage
        email = triage.email
        args = helpdesk.CreateTicketIn(
            customer_email=email.sender,
            subject=email.subject[:300] or "(no subject)",
            body=email.body or "(empty)",
            category=triage.classification.category if ctx.policy.category(triage.classification.category) else None,
            priority=triage.priority,
            source_message_id=email.message_id,
        )
        try:
            ticket = await write("ticket", helpdesk.CREATE_TICKET, args)
        except Conflict:
            # The message already has a ticket (made by an earlier run): carry on with that one.
            found = await call(
                ctx.toolbox,
                helpdesk.SEARCH_TICKETS,
                helpdesk.SearchTicketsIn(source_message_id=email.message_id, limit=1),
                helpdesk.TicketList,
            )
            if not found.items:
                raise
            return found.items[0].id
        assert isinstance(ticket, helpdesk.Ticket)
        return ticket.id


specialist = CrmWriterSpecialist()
