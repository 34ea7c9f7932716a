"""The CRM writer specialist (entry point `crm_writer = specialists.crm_writer:specialist`).

Creates the ticket, routes it, adds an internal note with the reasons, attaches the draft, saves
it in the mailbox, logs the interaction and marks the message processed: every write with an
idempotency key. No model. Scopes: helpdesk:read, helpdesk:write, crm:write, mail:draft.
"""

from specialists.crm_writer._specialist import CrmWriterSpecialist, specialist

__all__ = ["CrmWriterSpecialist", "specialist"]
