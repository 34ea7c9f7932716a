"""How upset is the customer? A small third-party specialist: one tool, one judgment, an offline form."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas import InboundEmail, Policy
from schemas.tools import crm
from specialists.kit import Judgment, Manifest, SpecialistContext, call, stem, tokens

_UPSET = {
    stem(word)
    for word in ("angry", "furious", "unacceptable", "terrible", "worst", "disappointed", "ridiculous", "frustrated")
}


class Mood(BaseModel):
    model_config = ConfigDict(frozen=True)

    mood: Literal["calm", "upset"]
    words: list[str]


class SentimentResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    mood: Literal["calm", "upset"]
    words: list[str]
    known_customer: bool


def _offline(email: InboundEmail, policy: Policy) -> Mood:
    words = sorted({t for t in tokens(f"{email.subject} {email.body}") if t in _UPSET})
    return Mood(mood="upset" if words else "calm", words=words)


MOOD: Judgment[InboundEmail, Mood] = Judgment(
    name="sentiment.mood",
    instructions="Is the customer calm or upset? Quote the words that show it.",
    input=InboundEmail,
    output=Mood,
    offline=_offline,
)


class SentimentSpecialist:
    manifest = Manifest(
        name="sentiment",
        version="0.1.0",
        description="How upset is the customer?",
        input=InboundEmail,
        output=SentimentResult,
        scopes=("crm:read",),
        model_tier="small",
        max_iterations=1,
    )

    async def run(self, task: InboundEmail, ctx: SpecialistContext) -> SentimentResult:
        found = await call(ctx.toolbox, crm.FIND_CUSTOMER, crm.FindCustomerIn(email=task.sender), crm.FindCustomerOut)
        mood = (await ctx.judge(MOOD, task)).output
        return SentimentResult(mood=mood.mood, words=mood.words, known_customer=found.customer is not None)


specialist = SentimentSpecialist()
