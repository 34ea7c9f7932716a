"""What a run may still spend: tokens, dollars, tool calls, model iterations, wall time.

Every model call and tool call reserves from the budget *before* it is made; a call that would
overrun raises `BudgetExhausted`, whose `field` names the limit, and is not made. The coordinator turns that
into an escalation with the partial result: never a silent overrun.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from schemas import BudgetExhausted


@dataclass
class Budget:
    tokens: int = 200_000
    cost_usd: float = 1.0
    tool_calls: int = 60
    iterations: int = 20
    wall_seconds: float = 300.0
    started: float = field(default_factory=time.monotonic)
    used_tokens: int = 0
    used_cost_usd: float = 0.0
    used_tool_calls: int = 0
    used_iterations: int = 0

    def _check_time(self) -> None:
        if time.monotonic() - self.started > self.wall_seconds:
            raise BudgetExhausted(f"wall time budget of {self.wall_seconds:.0f}s is spent", field="wall_seconds")

    def reserve_tool_call(self, tool: str) -> None:
        self._check_time()
        if self.used_tool_calls + 1 > self.tool_calls:
            raise BudgetExhausted(f"tool call budget of {self.tool_calls} is spent (next: {tool})", field="tool_calls")
        self.used_tool_calls += 1

    def reserve_model_call(self, estimated_tokens: int) -> None:
        """Count one model iteration; refuse it if it could overrun the token budget."""
        self._check_time()
        if self.used_iterations + 1 > self.iterations:
            raise BudgetExhausted(f"model iteration budget of {self.iterations} is spent", field="iterations")
        if self.used_tokens + estimated_tokens > self.tokens:
            raise BudgetExhausted(
                f"token budget: {self.tokens - self.used_tokens} left, the next call may need {estimated_tokens}",
                field="tokens",
            )
        if self.used_cost_usd >= self.cost_usd:
            raise BudgetExhausted(f"cost budget of ${self.cost_usd:.2f} is spent", field="cost_usd")
        self.used_iterations += 1

    def charge(self, tokens: int, cost_usd: float) -> None:
        self.used_tokens += tokens
        self.used_cost_usd += cost_usd

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.wall_seconds - (time.monotonic() - self.started))
