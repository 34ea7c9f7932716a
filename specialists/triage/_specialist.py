"""The triage specialist: who wrote, what they need, how urgent, and whether a person must look."""

from __future__ import annotations

from schemas import Classification, CustomerContext, InboundEmail, TriageResult
from schemas.tools import crm, helpdesk
from specialists.kit import Manifest, SpecialistContext, call, call_or_none, gather, injection_signals
from specialists.triage._classify import CLASSIFY, ClassifyRequest
from specialists.triage._rules import (
    escalation_reasons,
    followed_up,
    priority_for,
    reread_for_risk,
    vague_follow_up,
)

CLOSED = ("solved", "closed")
"""Ticket statuses that are not open."""


class TriageSpecialist:
    manifest = Manifest(
        name="triage",
        version="0.1.0",
        description="Find the customer, gather their history, classify category, priority and queue, or escalate.",
        input=InboundEmail,
        output=TriageResult,
        scopes=("crm:read", "helpdesk:read"),
        model_tier="small",
        max_iterations=2,
    )

    async def run(self, task: InboundEmail, ctx: SpecialistContext) -> TriageResult:
        customer, tickets = await self._customer(task, ctx)
        history = [*customer.recent_interactions, *customer.open_tickets] if customer else []
        # a follow-up that says too little of the customer's one open ticket is read with that ticket's subject
        about = followed_up(task, ctx.policy, customer.open_tickets) if customer else None
        read = task if about is None else task.model_copy(update={"subject": f"{task.subject} ({about})"[:300]})
        # and it is about what that ticket is filed under, when the policy still declares it: nothing to guess
        # (its injection signals are found below, as for any backend's classification)
        filed = next((t for t in tickets if t.status not in CLOSED), None) if about is not None else None
        if filed is not None and filed.category is not None and ctx.policy.category(filed.category) is not None:
            classification = Classification(
                category=filed.category,
                confidence=1.0,
                matched_terms=[filed.id],
                rationale=f"follows up {filed.id}, the customer's one open ticket, filed under '{filed.category}'",
            )
        else:
            request = ClassifyRequest(email=read, customer_plan=customer.plan if customer else None, history=history)
            classification = (await ctx.judge(CLASSIFY, request)).output
        # the email's signals are checked in code too, whatever the model saw: hidden or disguised
        # instructions escalate before a draft is written or an action proposed
        missed = [
            s for s in injection_signals(f"{task.subject}\n{task.body}") if s not in classification.injection_signals
        ]
        if missed:
            signals = [*classification.injection_signals, *missed]
            classification = classification.model_copy(update={"injection_signals": signals})
        classification = reread_for_risk(classification, task, ctx.policy)
        category = ctx.policy.category(classification.category)
        priority, rule = priority_for(task, customer.plan if customer else None, category, ctx.policy)
        # a follow-up read as the ticket it follows up is judged as read: its own few words say nothing
        reasons = escalation_reasons(classification, category, ctx.policy, read)
        if customer is not None:
            reasons += vague_follow_up(task, ctx.policy, customer.open_tickets, customer.recent_interactions)
        else:
            reasons += vague_follow_up(task, ctx.policy, [], [])
        return TriageResult(
            email=task,
            customer=customer,
            classification=classification,
            queue=category.queue if category else "triage",
            priority=priority,
            priority_rule=rule,
            escalate=bool(reasons),
            escalation_reasons=reasons,
        )

    async def _customer(
        self, email: InboundEmail, ctx: SpecialistContext
    ) -> tuple[CustomerContext | None, list[helpdesk.Ticket]]:
        """The sender as a known customer (None for a stranger), and their latest tickets."""
        found = await call(ctx.toolbox, crm.FIND_CUSTOMER, crm.FindCustomerIn(email=email.sender), crm.FindCustomerOut)
        if found.customer is None:
            return None, []
        c = found.customer
        # the three lookups need only the customer: made at once
        found_account, interactions, tickets = await gather(
            call_or_none(ctx.toolbox, crm.GET_ACCOUNT, crm.GetAccountIn(account_id=c.account_id), crm.Account),
            call(
                ctx.toolbox,
                crm.LIST_INTERACTIONS,
                crm.ListInteractionsIn(account_id=c.account_id, limit=5),
                crm.InteractionList,
            ),
            call(
                ctx.toolbox,
                helpdesk.SEARCH_TICKETS,
                helpdesk.SearchTicketsIn(customer_email=email.sender, limit=5),
                helpdesk.TicketList,
            ),
        )
        # the customer's account gone: keep the customer's own plan
        status, plan = (found_account.status, found_account.plan) if found_account else ("unknown", c.plan)
        context = CustomerContext(
            customer_id=c.id,
            name=c.name,
            account_id=c.account_id,
            plan=plan,
            account_status=status,
            recent_interactions=[f"{i.channel}: {i.summary}" for i in interactions.items],
            open_tickets=[f"{t.id} [{t.status}] {t.subject}" for t in tickets.items if t.status not in CLOSED],
        )
        return context, tickets.items


specialist = TriageSpecialist()
