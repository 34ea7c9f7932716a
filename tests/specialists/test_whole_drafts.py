"""Drafts are whole whatever the template: greeted (by name when the sender is known), answered or routed to
a team, and signed exactly once at the end; compliance passes them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coordinator.models import OfflineModel
from schemas import Classification, ComplianceInput, DraftingInput, InboundEmail
from specialists.compliance import specialist as compliance
from specialists.drafting import make_whole, render, starts_with_greeting
from specialists.drafting import specialist as drafting
from specialists.triage import specialist as triage
from tests.specialists.harness import World
from tests.specialists.plain_tenant import KNOWN, SIGNATURE, TEMPLATES, UNKNOWN, vet_world

__all__ = ["vet_world"]

EMAILS = {
    "bookings": ("Move my appointment", "Can I move Luna's appointment to next week?", "choose a new time"),
    "prescriptions": ("Repeat prescription", "Luna needs her repeat prescription again.", "two working days"),
    "billing": ("Paying my invoice", "How can I pay the invoice from last visit?", "bank transfer"),
    "records": ("Vaccination certificate", "I need Luna's vaccination certificate.", "within one working day"),
    "parking": ("Where can I park?", "Is there somewhere near the entrance for my car?", "front desk team"),
}


def signed_once(body: str) -> bool:
    return body.count(SIGNATURE) == 1 and body.endswith(SIGNATURE)


@pytest.mark.anyio
@pytest.mark.parametrize("category", sorted(EMAILS))
@pytest.mark.parametrize("sender", [KNOWN, UNKNOWN], ids=["known", "unknown"])
async def test_every_template_gives_a_greeted_answered_draft_signed_once_that_compliance_passes(
    vet_world: World, category: str, sender: str
) -> None:
    subject, body, answer = EMAILS[category]
    email = InboundEmail(message_id="M-1", sender=sender, subject=subject, body=body)
    async with vet_world.context(triage, "harbour-vet", OfflineModel()) as ctx:
        triaged = await triage.run(email, ctx)
    queue = next(c.queue for c in vet_world.tenants["harbour-vet"].policy.categories if c.name == category)
    result = triaged.model_copy(  # the template under test is the category's: the classifier is not
        update={
            "classification": Classification(category=category, confidence=0.9),
            "queue": queue,
            "escalate": False,
            "escalation_reasons": [],
        }
    )
    async with vet_world.context(drafting, "harbour-vet", OfflineModel()) as ctx:
        draft = await drafting.run(DraftingInput(triage=result), ctx)
    async with vet_world.context(compliance, "harbour-vet", OfflineModel()) as ctx:
        verdict = await compliance.run(ComplianceInput(triage=result, draft=draft), ctx)

    first = draft.body.splitlines()[0]
    assert starts_with_greeting(first), draft.body
    assert ("Maya" in first) == (sender == KNOWN), draft.body
    assert answer in draft.body, draft.body
    assert signed_once(draft.body), draft.body
    assert draft.template == (category if category in TEMPLATES else "default")
    assert verdict.verdict == "pass", verdict.reasons


def test_a_model_draft_is_greeted_answered_and_its_repeated_signatures_become_one_at_the_end() -> None:
    answer = "Your refill is ready on Thursday."
    cases = {
        "": "empty",
        f"{SIGNATURE}\n\nYour refill is ready on Thursday.\n\nBest,\n{SIGNATURE}\n\n{SIGNATURE}": "repeats",
        "Hi Maya,\n\nBest,\n" + SIGNATURE: "no answer",
        "Hi {customer_name},\n\n{answer}\n\n{signature}": "placeholders left",
        f"Your refill is ready on Thursday. Thanks, {SIGNATURE}": "signed on the last line",
    }
    for body, why in cases.items():
        whole = make_whole(body, name="Maya", signature=SIGNATURE, answer=answer)
        assert whole.body.startswith("Hi Maya,"), why
        assert whole.body.count(answer) == 1, why
        assert signed_once(whole.body), why
        assert make_whole(whole.body, name="Maya", signature=SIGNATURE, answer=answer).fixes == (), why
    kept = "Hi Maya, your refill is ready.\n\nBest,\n" + SIGNATURE
    assert make_whole(kept, name="Maya", signature=SIGNATURE, answer=answer).body == kept  # whole already
    for own, named in [
        ("Dear guest,", "Dear Maya,"),
        ("Hi there!", "Hi Maya!"),
        ("Good morning", "Good morning Maya,"),
    ]:
        whole = make_whole(f"{own}\n\n{answer}\n\n{SIGNATURE}", name="Maya", signature=SIGNATURE, answer=answer)
        assert whole.body.splitlines()[0] == named, whole.body
    # a greeting line with more to say is addressed by name too, and keeps what it says
    for own, named in [
        ("Hello and thank you for writing to us.", "Hello Maya, and thank you for writing to us."),
        ("Dear valued guest, thanks for your message.", "Dear Maya, thanks for your message."),
        ("Good morning! We read every message.", "Good morning Maya! We read every message."),
        ("Hi there and thanks, we got it.", "Hi Maya, and thanks, we got it."),
        ("Hello Maya and thank you.", "Hello Maya and thank you."),
    ]:
        whole = make_whole(f"{own}\n\n{answer}\n\n{SIGNATURE}", name="Maya", signature=SIGNATURE, answer=answer)
        assert whole.body.splitlines()[0] == named, whole.body
    # a greeting alone is not an answer: naming the customer in it does not make it one
    bare = make_whole(
        f"Hello and thank you for writing to us.\n\n{SIGNATURE}", name="Maya", signature=SIGNATURE, answer=answer
    )
    assert bare.body.startswith("Hello Maya, and thank you") and bare.body.count(answer) == 1 and bare.answered
    assert make_whole(bare.body, name="Maya", signature=SIGNATURE, answer=answer).fixes == ()


_OPENINGS = st.sampled_from(
    ["Thanks for writing to us.", "We read every message ourselves.", "Thank you for your patience."]
)
_GREETINGS = st.sampled_from(
    ["Hi {customer_name},", "Dear {customer_name},", "Hello,", "Dear valued guest,", "Good morning {customer_name},"]
)
_SIGN_OFFS = st.sampled_from(["Best,", "Warm wishes,", "Kind regards,"])
_SIGNATURES = st.sampled_from(["The Front Desk", "Harbour Vet Front Desk", "Kiri & Sam\nHarbour Vet"])


@st.composite
def templates(draw: st.DrawFn) -> tuple[str, str]:
    """A template of any shape: a greeting or not, opening text, {answer} or not, a closing with
    {signature}, with the signature written out, or none; and its signature."""
    signature = draw(_SIGNATURES)
    parts: list[str] = []
    if draw(st.booleans()):
        parts.append(draw(_GREETINGS))
    parts += draw(st.lists(_OPENINGS, max_size=2))
    if draw(st.booleans()):
        parts.append("{answer}")
    parts += draw(st.lists(_OPENINGS, max_size=1))
    closing = draw(st.sampled_from(["placeholder", "written", "none"]))
    sign_off = draw(st.one_of(st.none(), _SIGN_OFFS))
    if closing != "none":
        parts.append(
            "\n".join([*([sign_off] if sign_off else []), "{signature}" if closing == "placeholder" else signature])
        )
    return draw(st.sampled_from(["\n\n", "\n"])).join(parts), signature


@given(templates(), st.sampled_from(["Maya", None]))
def test_any_template_shape_renders_a_whole_draft(shaped: tuple[str, str], name: str | None) -> None:
    template, signature = shaped
    answer = "Open the booking link and choose a new time."
    body = render(template, name=name, answer=answer, signature=signature)
    whole = make_whole(body, name=name, signature=signature, answer=answer)
    first = whole.body.splitlines()[0]
    # a greeting of the tenant's own ("Dear valued guest,") is addressed to a known customer by name
    assert starts_with_greeting(first) and ("Maya" in first) == (name is not None), whole.body
    assert whole.body.count(answer) == 1
    assert whole.body.count(signature) == 1 and whole.body.endswith(signature)
    assert "{" not in whole.body
    assert make_whole(whole.body, name=name, signature=signature, answer=answer).body == whole.body
