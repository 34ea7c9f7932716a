"""The compliance specialist: check the draft and the proposed actions against the policy.

Verdicts: `escalate` when the customer's email tries to instruct the system (openly, disguised, or
in text the reader cannot see; checked in code whatever the model says), demands credits or asks
for other customers' data, or when a draft still breaks a rule after two revisions; `revise`
when the draft breaks a rule (the excerpts go back to drafting); `needs_approval` when a proposed
action is one the policy reserves for a person; otherwise `pass`.
"""

from __future__ import annotations

from schemas import ComplianceInput, ComplianceVerdict, Finding, InvalidArgument
from schemas.tools import crm
from specialists.compliance._review import REVIEW, ReviewRequest, email_findings
from specialists.compliance._rules import check_draft, own_addresses
from specialists.kit import Manifest, SpecialistContext, call

MAX_REVISIONS = 2
_EMAIL_RULES = {"injection", "credit_demand", "other_customer_data"}


class ComplianceSpecialist:
    manifest = Manifest(
        name="compliance",
        version="0.1.0",
        description="Check the draft and proposed actions: forbidden phrases, card numbers, other customers' "
        "data, injected instructions, actions that need approval.",
        input=ComplianceInput,
        output=ComplianceVerdict,
        scopes=("crm:read",),
        model_tier="small",
        max_iterations=2,
    )

    async def run(self, task: ComplianceInput, ctx: SpecialistContext) -> ComplianceVerdict:
        customer_email = task.triage.email.sender
        policy = ctx.policy
        findings = check_draft(task.draft.body, customer_email, policy.compliance, own=own_addresses(policy.drafting))
        findings += await self._other_customers(findings, customer_email, ctx)
        review = (
            await ctx.judge(
                REVIEW, ReviewRequest(email=task.triage.email, draft=task.draft.body, customer_email=customer_email)
            )
        ).output
        findings += [f for f in review.findings if f not in findings]
        # the email's signals are checked in code too, whatever the model saw: nothing is parked for a person
        # while the email tries to instruct the system, openly or in text the reader cannot see
        findings += [f for f in email_findings(task.triage.email) if f not in findings]
        approval = [a for a in task.actions if a.tool in ctx.policy.approval_required_tools]
        findings += [
            Finding(rule="approval_required", detail=f"{a.tool} needs a person's approval", where="actions")
            for a in approval
        ]

        in_email = [f for f in findings if f.where == "email" and f.rule in _EMAIL_RULES]
        in_draft = [f for f in findings if f.where == "draft"]
        reasons = [f"{f.where}: {f.rule}: {f.detail}" + (f" ({f.excerpt!r})" if f.excerpt else "") for f in findings]
        if in_email or task.triage.escalate:
            reasons += task.triage.escalation_reasons
            return ComplianceVerdict(verdict="escalate", findings=findings, reasons=reasons)
        if in_draft:
            if task.revision >= MAX_REVISIONS:
                reasons.append(f"the draft still breaks the policy after {task.revision} revisions")
                return ComplianceVerdict(verdict="escalate", findings=findings, reasons=reasons)
            return ComplianceVerdict(verdict="revise", findings=findings, reasons=reasons)
        if approval:
            return ComplianceVerdict(
                verdict="needs_approval", findings=findings, reasons=reasons, approval_actions=approval
            )
        return ComplianceVerdict(verdict="pass", findings=findings, reasons=reasons or ["no rule broken"])

    async def _other_customers(self, findings: list[Finding], sender: str, ctx: SpecialistContext) -> list[Finding]:
        """Foreign addresses in the draft that belong to another customer of this tenant."""
        extra = []
        for address in {f.excerpt for f in findings if f.rule == "foreign_email"}:
            try:
                found = await call(
                    ctx.toolbox, crm.FIND_CUSTOMER, crm.FindCustomerIn(email=address), crm.FindCustomerOut
                )
            except InvalidArgument:  # an address the CRM cannot parse is still a foreign address
                continue
            if found.customer is not None and found.customer.email != sender.casefold():
                extra.append(
                    Finding(rule="other_customer_data", detail="the address of another customer", excerpt=address)
                )
        return extra


specialist = ComplianceSpecialist()
