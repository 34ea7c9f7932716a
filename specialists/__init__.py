"""Specialist agents (triage, drafting, compliance, crm_writer) and the kit they share.

Imports only `schemas`. Built in the next milestone; see DESIGN §4.
"""

__all__: list[str] = []
