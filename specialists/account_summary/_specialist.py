"""The account summary: read an account, its interactions and its contacts' tickets; judge; write one note."""

from __future__ import annotations

from schemas import AccountReviewRequest, AccountSummary, AppliedWrite
from schemas.tools import crm, helpdesk
from specialists.account_summary._assess import ASSESS, AccountFacts, Assessment, TicketFact
from specialists.kit import Manifest, SpecialistContext, call, call_or_none, gather

NOTE_LIMIT = 2000
"""The longest summary `crm.log_interaction` takes."""


class AccountSummarySpecialist:
    manifest = Manifest(
        name="account_summary",
        version="0.1.0",
        description="Summarise an account (interactions, tickets, what needs a person) as an internal note.",
        input=AccountReviewRequest,
        output=AccountSummary,
        scopes=("crm:read", "crm:write", "helpdesk:read"),
        model_tier="small",
        max_iterations=1,
    )

    async def run(self, task: AccountReviewRequest, ctx: SpecialistContext) -> AccountSummary:
        account, listed = await gather(
            call_or_none(ctx.toolbox, crm.GET_ACCOUNT, crm.GetAccountIn(account_id=task.account_id), crm.Account),
            call_or_none(
                ctx.toolbox,
                crm.LIST_INTERACTIONS,
                crm.ListInteractionsIn(account_id=task.account_id, limit=50),
                crm.InteractionList,
            ),
        )
        if account is None or listed is None:  # not this tenant's account (or none at all): nothing is written
            return AccountSummary(
                account_id=task.account_id, found=False, flags=[f"account {task.account_id} not found"], flagged=True
            )
        contacts, left_out = await self._contacts(task, account, ctx)
        tickets = await self._tickets(contacts, ctx)
        # internal notes (this specialist's own among them) are not contacts with the customer
        interactions = [i.summary for i in listed.items if i.channel != "note"]
        facts = AccountFacts(
            name=account.name, plan=account.plan, status=account.status, interactions=interactions, tickets=tickets
        )
        assessment = (await ctx.judge(ASSESS, facts)).output
        text = _note(task, account, facts, assessment)
        args = crm.LogInteractionIn(account_id=account.id, channel="note", summary=text)
        key = ctx.idempotency_key("note", crm.LOG_INTERACTION.qualified_name, args)
        note = await call(ctx.toolbox, crm.LOG_INTERACTION, args, crm.Interaction, key=key)
        return AccountSummary(
            account_id=account.id,
            found=True,
            name=account.name,
            status=account.status,
            interactions=len(interactions),
            tickets=len(tickets),
            open_tickets=assessment.open_tickets,
            recent_topics=assessment.recent_topics,
            flags=assessment.flags,
            flagged=bool(assessment.flags),
            left_out=left_out,
            text=text,
            written=AppliedWrite(tool=crm.LOG_INTERACTION.qualified_name, idempotency_key=key, result_id=note.id),
        )

    async def _contacts(
        self, task: AccountReviewRequest, account: crm.Account, ctx: SpecialistContext
    ) -> tuple[list[str], list[str]]:
        """The request's contacts that are customers on this account, and the others (left out)."""
        found = await gather(
            *(
                call(ctx.toolbox, crm.FIND_CUSTOMER, crm.FindCustomerIn(email=email), crm.FindCustomerOut)
                for email in task.contacts
            )
        )
        ours = [
            email
            for email, hit in zip(task.contacts, found, strict=True)
            if hit.customer is not None and hit.customer.account_id == account.id
        ]
        return ours, [email for email in task.contacts if email not in ours]

    async def _tickets(self, contacts: list[str], ctx: SpecialistContext) -> list[TicketFact]:
        """The contacts' tickets, newest first, each once."""
        lists = await gather(
            *(
                call(
                    ctx.toolbox,
                    helpdesk.SEARCH_TICKETS,
                    helpdesk.SearchTicketsIn(customer_email=email, limit=50),
                    helpdesk.TicketList,
                )
                for email in contacts
            )
        )
        seen = {t.id: t for found in lists for t in found.items}
        newest = sorted(seen.values(), key=lambda t: (t.created_at, t.id), reverse=True)
        return [
            TicketFact(id=t.id, subject=t.subject, status=t.status, priority=t.priority, category=t.category)
            for t in newest
        ]


def _note(task: AccountReviewRequest, account: crm.Account, facts: AccountFacts, assessment: Assessment) -> str:
    asked = "".join(
        [f", asked by {task.requested_by}" if task.requested_by else "", f": {task.reason}" if task.reason else ""]
    )
    lines = [
        f"Account review of {account.name} ({account.id}, {account.plan}, {account.status}){asked}.",
        f"{len(facts.interactions)} interactions, {len(facts.tickets)} tickets, {len(assessment.open_tickets)} open.",
        *(f"Open: {t}" for t in assessment.open_tickets),
        *(f"Recent: {t}" for t in assessment.recent_topics),
        *(f"Flag: {f}" for f in assessment.flags),
    ]
    text = "\n".join(lines)
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"


specialist = AccountSummarySpecialist()
