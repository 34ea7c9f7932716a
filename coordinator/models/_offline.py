"""The offline model: each judgment's deterministic form, driven only by the tenant's policy.

No network and no randomness: the same input gives the same output. It reports usage as an
estimate of the tokens an LLM would have read and written (so budgets and reports mean the same
thing with either backend) at zero cost.
"""

from __future__ import annotations

import anyio

from schemas import ModelOutputError, Policy
from specialists.kit import Generation, In, Judgment, Out, Tier, Usage


class OfflineModel:
    """`latency`: seconds each judgment takes, as a hosted model's answer would (0 by default). For load
    tests that should wait on the model as production does: `deskhand work --model-latency 1.5`."""

    name = "offline"

    def __init__(self, *, latency: float = 0.0) -> None:
        if not 0.0 <= latency <= 600.0:
            raise ValueError(f"latency {latency!r}: expected 0 to 600 seconds")
        self.latency = latency

    async def judge(
        self, judgment: Judgment[In, Out], value: In, *, policy: Policy, tier: Tier, time_left: float | None = None
    ) -> Generation[Out]:
        if judgment.offline is None:
            raise ModelOutputError(
                f"the offline engine cannot make the judgment {judgment.name!r} (it has no offline form); "
                "use the anthropic backend for this specialist"
            )
        output = judgment.offline(value, policy)
        if not isinstance(output, judgment.output):
            raise TypeError(f"{judgment.name}: offline form returned {type(output).__name__}")
        if self.latency:
            await anyio.sleep(self.latency)
        usage = Usage(
            model=f"offline/{tier}",
            input_tokens=len(value.model_dump_json()) // 4,
            output_tokens=len(output.model_dump_json()) // 4,
        )
        return Generation(output=output, usage=usage)
