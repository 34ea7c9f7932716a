"""A tenant whose templates use some placeholders or none (a veterinary clinic's front desk), for the tests
that drafts are whole whatever the template."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import TenantFile
from tests.conftest import Issuer
from tests.specialists.harness import World

SIGNATURE = "Harbour Vet Front Desk · frontdesk@harbour-vet.example"  # its own address: not a foreign one
TEMPLATES = {
    "bookings": "Good morning {customer_name},\n\n{answer}\n\nWarm wishes,\n{signature}",  # every placeholder
    "prescriptions": "Thank you for writing to Harbour Vet. We read every message ourselves.",  # none
    "billing": "Thanks for your message about your bill.\n\n{signature}",  # only the signature
    "records": "Dear {customer_name},\nThanks for asking about your pet's records.",  # only the name
    "default": f"Thanks for contacting us.\n\nWarm wishes,\n{SIGNATURE}",  # the signature written out
}
KNOWN = "maya.lindqvist@example.org"
UNKNOWN = "someone.new@example.net"


def plain_tenant() -> TenantFile:
    category = {
        "bookings": ("Booking, moving or cancelling an appointment", "appointments"),
        "prescriptions": ("Repeat prescriptions and medication for pets", "pharmacy"),
        "billing": ("Invoices, payments and insurance claims", "accounts"),
        "records": ("Vaccination certificates and medical records", "records_office"),
        "parking": ("Getting to the clinic, parking and opening hours", "front_desk"),
    }
    return TenantFile.model_validate(
        {
            "tenant": "harbour-vet",
            "name": "Harbour Vet",
            "policy": {
                "categories": [
                    {"name": name, "description": description, "queue": queue}
                    for name, (description, queue) in category.items()
                ],
                "priorities": [{"priority": "P3"}],
                "drafting": {"signature": SIGNATURE, "templates": TEMPLATES},
            },
            "accounts": [{"id": "H-1", "name": "Lindqvist household"}],
            "customers": [{"id": "P-1", "email": KNOWN, "name": "Maya Lindqvist", "account": "H-1"}],
            "articles": [
                {
                    "id": "VET-1",
                    "title": "Moving an appointment",
                    "tags": ["bookings"],
                    "body": "Open the booking link in your confirmation email and choose a new time. "
                    "Cancelling up to 24 hours before costs nothing.",
                },
                {
                    "id": "VET-2",
                    "title": "Repeat prescriptions",
                    "tags": ["prescriptions"],
                    "body": "Repeat prescriptions are ready two working days after you ask. "
                    "Collect them from reception.",
                },
                {
                    "id": "VET-3",
                    "title": "Paying an invoice",
                    "tags": ["billing"],
                    "body": "Invoices can be paid at reception or by bank transfer within 14 days.",
                },
                {
                    "id": "VET-4",
                    "title": "Vaccination certificates",
                    "tags": ["records"],
                    "body": "Vaccination certificates are emailed within one working day of a vaccination.",
                },
            ],
        }
    )


@pytest.fixture
def vet_world(tmp_path: Path, issuer: Issuer) -> Iterator[World]:
    """The four reference servers seeded with the clinic alone."""
    world = World.build(tmp_path, [plain_tenant()], issuer)
    yield world
    world.dispose()
