"""A scripted model for tests: answers each judgment from a script you give it, and records the calls.

    model = ScriptedModel({"triage.classify": [Classification(category="billing", confidence=0.9)]})

Each judgment name maps to the outputs to return in order (or a function of the input). A call
with nothing scripted for its judgment raises `ModelOutputError`, so a test cannot pass by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from schemas import ModelOutputError, Policy
from specialists.kit import Generation, In, Judgment, Out, Tier, Usage

Reply = BaseModel | Callable[[BaseModel], BaseModel] | Exception


@dataclass
class ScriptedCall:
    judgment: str
    value: BaseModel
    tier: Tier


@dataclass
class ScriptedModel:
    script: Mapping[str, Sequence[Reply]]
    usage_per_call: Usage = field(default_factory=lambda: Usage(model="scripted", input_tokens=100, output_tokens=20))
    calls: list[ScriptedCall] = field(default_factory=list)
    name: str = "scripted"

    async def judge(
        self, judgment: Judgment[In, Out], value: In, *, policy: Policy, tier: Tier, time_left: float | None = None
    ) -> Generation[Out]:
        self.calls.append(ScriptedCall(judgment.name, value, tier))
        replies = self.script.get(judgment.name, ())
        index = sum(1 for c in self.calls if c.judgment == judgment.name) - 1
        if index >= len(replies):
            raise ModelOutputError(f"scripted model: no reply left for {judgment.name!r} (call {index + 1})")
        reply = replies[index]
        if isinstance(reply, Exception):
            raise reply
        output = reply(value) if callable(reply) else reply
        if not isinstance(output, judgment.output):
            raise ModelOutputError(
                f"scripted reply for {judgment.name!r} is {type(output).__name__}, expected {judgment.output.__name__}"
            )
        return Generation(output=output, usage=self.usage_per_call)
