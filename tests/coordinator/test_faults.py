"""Tool degradation: timeouts, errors, malformed and partial results injected at the server boundary.

Each fault ends in a retry (the run completes as if nothing happened), a clear escalation naming the
tool, or a still-correct run on what arrived; never a crash, a hang, or a write made twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from coordinator import McpToolbox
from coordinator._registry import load_specialists
from coordinator._replay import replay
from coordinator.eval import ScenarioResult, load_suite, report
from coordinator.store import Store
from schemas import ToolOutputInvalid
from schemas.tools import crm, helpdesk
from tests.conftest import Issuer
from tests.coordinator.cli_helpers import cli
from tests.coordinator.test_eval import GOOD, evaluated, suite
from tests.specialists.harness import World

COMPLETED = {"category": "billing", "queue": "billing", "outcome": "completed"}


def faulted(ref: str, tool: str, kind: str, times: int, expect: dict[str, Any]) -> dict[str, Any]:
    """GOOD with `times` faults of `kind` on `tool`; `ref` is in the subject, so its ticket can be found."""
    server, name = tool.split(".")
    return {
        **GOOD,
        "id": ref,
        "email": {**GOOD["email"], "subject": f"Invoice copy {ref}"},  # type: ignore[dict-item]
        "expect": expect,
        "faults": [{"server": server, "tool": name, "error": kind, "times": times}],
    }


def escalated_by(tool: str) -> dict[str, Any]:
    return {"outcome": "escalated", "tools_called": [tool]}


async def tickets(world: World, ref: str) -> int:
    """How many tickets the helpdesk holds with `ref` in their subject."""
    async with world.connect("acme", "helpdesk", ["helpdesk:read"]) as client:
        found = await client.call_tool("search_tickets", {"query": ref})
    return len((found.structured_content or {})["items"])


def by_id(results: list[ScenarioResult]) -> dict[str, ScenarioResult]:
    return {r.scenario.id: r for r in results}


@pytest.mark.anyio
async def test_malformed_partial_and_unavailable_answers_end_in_a_retry_an_escalation_or_a_correct_run(
    tmp_path: Path, issuer: Issuer
) -> None:
    lines = [
        # one bad answer: the read or the keyed write is tried again, and the run completes
        faulted("mread", "crm.find_customer", "malformed", 1, COMPLETED),
        faulted("mwrite", "helpdesk.create_ticket", "malformed", 1, COMPLETED),
        faulted("pread", "crm.find_customer", "partial", 1, COMPLETED),
        faulted("pwrite", "helpdesk.create_ticket", "partial", 1, COMPLETED),
        faulted("uread", "crm.find_customer", "unavailable", 1, COMPLETED),
        faulted("uwrite", "helpdesk.create_ticket", "unavailable", 1, COMPLETED),
        # a list cut short is still a list: the run goes on with what arrived, and is still right
        faulted("plist", "knowledge.search_articles", "partial", 1, COMPLETED),
        # bad answers to every try: the run escalates, naming the tool and what was wrong
        faulted("allmr", "crm.find_customer", "malformed", 3, escalated_by("crm.find_customer")),
        faulted("allmw", "helpdesk.route_ticket", "malformed", 3, escalated_by("helpdesk.route_ticket")),
        faulted("allpw", "helpdesk.create_ticket", "partial", 3, escalated_by("helpdesk.create_ticket")),
    ]
    folder = suite(tmp_path / "s", *lines)
    async with evaluated(folder, tmp_path / "w", issuer) as done:
        results = by_id(done.results)
        assert {i: r.failures for i, r in results.items() if r.failures} == {}
        for ref in ("mwrite", "pwrite", "uwrite", "allmw", "allpw"):  # each write made once, however answered
            assert await tickets(done.world, ref) == 1, ref
    for ref, tool in (("allmr", "crm.find_customer"), ("allmw", "helpdesk.route_ticket")):
        assert f"tool_output_invalid: {tool} returned a result that is not its" in results[ref].reason
    assert "tool_output_invalid: helpdesk.create_ticket" in results["allpw"].reason
    assert [results[line["id"]].injected for line in lines] == [1, 1, 1, 1, 1, 1, 1, 3, 3, 3]
    assert report(done.results, "offline")["scores"]["faults_injected"] == 16


@pytest.mark.anyio
async def test_a_timeout_fault_holds_the_answer_until_the_coordinators_deadline_fires(
    tmp_path: Path, issuer: Issuer
) -> None:
    """The answer is held until the caller gives up: one timeout is tried again (a write is then answered
    from its record), a timeout on every try escalates the run saying the call timed out."""
    lines = [
        faulted("tread", "crm.get_account", "timeout", 1, COMPLETED),
        faulted("twrite", "helpdesk.create_ticket", "timeout", 1, COMPLETED),
        faulted("alltr", "crm.find_customer", "timeout", 3, escalated_by("crm.find_customer")),
    ]
    folder = suite(tmp_path / "s", *lines)
    with anyio.fail_after(60):  # a fault that held its answer past the bound would show here, not hang
        async with evaluated(folder, tmp_path / "w", issuer, tool_timeout_seconds=0.5) as done:
            results = by_id(done.results)
            assert {i: r.failures for i, r in results.items() if r.failures} == {}
            assert await tickets(done.world, "twrite") == 1  # made on the first try, whose answer was lost
    assert "crm.find_customer timed out after 0.5s" in results["alltr"].reason
    assert "injected" not in results["alltr"].reason  # the coordinator's deadline, not an error answered
    assert [results[line["id"]].injected for line in lines] == [1, 1, 3]


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


def test_eval_keep_leaves_a_store_whose_runs_replay_and_promote(tmp_path: Path) -> None:
    lines = [faulted("kept", "helpdesk.create_ticket", "malformed", 3, COMPLETED)]  # fails: it escalates
    folder = suite(tmp_path / "s", *lines)
    kept = tmp_path / "kept"
    result = cli("eval", "run", str(folder), "--keep", str(kept), "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.stderr
    assert f"sqlite:///{kept.resolve() / 'coordinator.db'}" in result.stdout
    assert {p.name for p in kept.glob("*.db")} == {
        "coordinator.db",
        "crm.db",
        "helpdesk.db",
        "knowledge.db",
        "mailbox.db",
    }
    [failure] = json.loads((tmp_path / "r.json").read_text())["failures"]
    assert helpdesk.CREATE_TICKET.qualified_name in failure["reasons"][0]
    store = Store(f"sqlite:///{kept / 'coordinator.db'}")
    try:
        policies = {t.tenant: t.policy for t in load_suite(folder).tenants}
        replayed = anyio.run(replay, store, load_specialists(), policies, failure["run_id"])
    finally:
        store.dispose()
    assert replayed.identical and replayed.steps, replayed.steps
    promoted = cli(
        "eval", "promote", failure["run_id"], "--suite", str(folder), "--db", f"sqlite:///{kept}/coordinator.db"
    )
    assert promoted.exit_code == 0, promoted.stderr
    assert len(load_suite(folder).scenarios) == 2
    again = cli("eval", "run", str(folder), "--keep", str(kept))
    assert again.exit_code != 0 and "--keep" in again.stderr and "new or empty folder" in again.stderr
