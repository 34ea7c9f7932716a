"""Tool degradation: answers that are not the tool's result."""

from __future__ import annotations

from typing import Any

import pytest

from coordinator import McpToolbox
from schemas import ToolOutputInvalid
from schemas.tools import crm
from tests.specialists.harness import World


class Spoils:
    """Server middleware that changes the wire form of every `tools/call` result by `changes`."""

    def __init__(self, changes: dict[str, Any]) -> None:
        self.changes = changes

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        result = await call_next(ctx)
        return {**result, **self.changes} if ctx.method == "tools/call" else result


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"content": 5}, "answered with no tool result: content: Input should be a valid list"),
        ({"isError": [1]}, "answered with no tool result: isError: Input should be a valid boolean"),
        ({"structuredContent": {"customer": 3}}, "not its FindCustomerOut: customer: Input should be"),
        ({"structuredContent": [1, 2]}, "not its FindCustomerOut: (result): Input should be"),
    ],
)
async def test_an_answer_that_is_not_the_tools_result_is_tool_output_invalid_not_a_crash(
    world: World, changes: dict[str, Any], where: str
) -> None:
    async with world.connect("acme", "crm", ["crm:read"], middleware=[Spoils(changes)]) as client:
        toolbox = await McpToolbox.discover({"crm": client})
        with pytest.raises(ToolOutputInvalid) as caught:
            await toolbox.call(crm.FIND_CUSTOMER, crm.FindCustomerIn(email="priya.raman@brightloop.example.com"))
    assert caught.value.code == "tool_output_invalid" and caught.value.field == "crm.find_customer"
    assert where in caught.value.message, caught.value.message
