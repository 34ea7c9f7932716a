"""Evaluation: suites in the documented format, scores, the regression gate, and bad input.

One test runs `deskhand eval` as a user does; the rest call `coordinator.eval` in this process.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from coordinator.eval import (
    HIGHER_IS_BETTER,
    FaultInjector,
    Probe,
    ScenarioResult,
    gate,
    interval,
    load_suite,
    report,
    run_suite,
    signed_once,
)
from coordinator.models import OfflineModel
from coordinator.store import Store
from schemas import ConfigError
from tests.conftest import EXAMPLE_TENANTS, REPO, Issuer
from tests.coordinator.cli_helpers import deskhand
from tests.specialists.harness import World

GOOD = {
    "id": "s-1",
    "tenant": "acme",
    "email": {
        "from": "priya.raman@brightloop.example.com",
        "subject": "Invoice copy",
        "body": "Could you send me a copy of last month's invoice? I cannot find it in billing.",
    },
    "expect": {
        "category": "billing",
        "queue": "billing",
        "outcome": "completed",
        "tools_called": ["crm.find_customer", "helpdesk.create_ticket"],
        "tools_not_called": ["crm.issue_credit"],
        "draft_contains": ["Priya"],
        "draft_excludes": ["guarantee"],
    },
}
DEGRADED = {
    "id": "s-2",
    "tenant": "northwind",
    "email": {
        "from": "stranger@nowhere.test",
        "subject": "Where is my parcel?",
        "body": "My order has not arrived yet and the tracking has not moved for a week.",
    },
    "expect": {"outcome": "completed", "tools_called": ["knowledge.search_articles"]},
    "faults": [{"server": "knowledge", "tool": "search_articles", "error": "unavailable", "times": 1}],
}


def suite(folder: Path, *lines: dict[str, Any] | str) -> Path:
    (folder / "tenants").mkdir(parents=True)
    for tenant in EXAMPLE_TENANTS.glob("*.yaml"):
        shutil.copy(tenant, folder / "tenants" / tenant.name)
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    (folder / "scenarios.jsonl").write_text(text + "\n", encoding="utf-8")
    return folder


@asynccontextmanager
async def evaluated(folder: Path, workspace: Path, issuer: Issuer, **options: Any) -> AsyncIterator[Evaluated]:
    """The suite in `folder` run through the coordinator and the four servers in memory, faults injected
    at each server's boundary, as `deskhand eval` runs it (`options` go to `run_suite`): its results, with
    the servers still up and the store in `workspace/coordinator.db`."""
    suite = load_suite(folder)
    await anyio.Path(workspace).mkdir()
    world = World.build(workspace, suite.tenants, issuer)
    probe = Probe()
    store = Store(f"sqlite:///{workspace / 'coordinator.db'}")

    def connect(tenant: str, server: Any, scopes: list[str], caller: Any = None) -> Any:
        return world.connect(tenant, server, scopes, caller, middleware=[FaultInjector(probe, server)])

    try:
        yield Evaluated(await run_suite(suite, connect, probe, store=store, model=OfflineModel(), **options), world)
    finally:
        store.dispose()
        world.dispose()


@dataclass
class Evaluated:
    results: list[ScenarioResult]
    world: World


async def evaluate(folder: Path, workspace: Path, issuer: Issuer) -> dict[str, Any]:
    """The report of the suite in `folder` (see `evaluated`)."""
    async with evaluated(folder, workspace, issuer) as done:
        return report(done.results, "offline")


def test_a_suite_written_elsewhere_runs_and_writes_its_report(tmp_path: Path) -> None:
    folder = suite(tmp_path / "my-suite", GOOD, DEGRADED)
    report_path = tmp_path / "report.json"
    result = deskhand("eval", "run", str(folder), "--json", str(report_path), timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "evaluating" in result.stdout and "accuracy.category" in result.stdout and "95% interval" in result.stdout
    report = json.loads(report_path.read_text())
    assert report["scores"]["scenarios"] == 2 and report["scores"]["passed"] == 2, report["failures"]
    assert report["scores"]["unsafe_actions"] == 0 and report["scores"]["faults_injected"] >= 1
    assert report["scores"]["drafts_signed"] == 1.0  # the completed one's draft ends with the signature, once
    by_tenant = report["by_tenant"]  # each business's own scores beside the suite's
    assert sorted(by_tenant) == ["acme", "northwind"] and all(s["scenarios"] == 1 for s in by_tenant.values())
    assert by_tenant["northwind"]["faults_injected"] >= 1 and by_tenant["acme"]["faults_injected"] == 0


@pytest.mark.anyio
async def test_the_gate_fails_on_a_planted_regression_and_passes_without_one(tmp_path: Path, issuer: Issuer) -> None:
    folder = suite(tmp_path / "s", GOOD)
    baseline = (await evaluate(folder, tmp_path / "first", issuer))["scores"]
    assert baseline["accuracy.category"] == 1.0
    assert gate((await evaluate(folder, tmp_path / "again", issuer))["scores"], baseline, 0.02) == []
    # Plant a regression: the expectation now says the email is a technical one.
    wrong = {**GOOD, "expect": {**GOOD["expect"], "category": "technical", "queue": "engineering"}}  # type: ignore[dict-item]
    regressed = (await evaluate(suite(tmp_path / "r", wrong), tmp_path / "regressed", issuer))["scores"]
    assert gate(regressed, baseline, 0.02) == [
        "accuracy.category dropped from 1.000 to 0.000 (tolerance 0.020)",
        "accuracy.queue dropped from 1.000 to 0.000 (tolerance 0.020)",
    ]


@pytest.mark.anyio
async def test_escalating_category_recall_counts_the_lines_whose_category_the_policy_escalates(
    tmp_path: Path, issuer: Issuer
) -> None:
    # acme escalates `security`: a line that expects it and completes is a miss, whatever else it expects
    missed = {**GOOD, "id": "s-3", "expect": {"category": "security"}}
    scores = (await evaluate(suite(tmp_path / "s", GOOD, missed), tmp_path / "w", issuer))["scores"]
    assert scores["escalating_category_recall"] == 0.0 and scores["escalation_recall"] is None
    scores = (await evaluate(suite(tmp_path / "t", GOOD), tmp_path / "v", issuer))["scores"]
    assert scores["escalating_category_recall"] is None  # no line expects an escalating category


@pytest.mark.anyio
async def test_the_report_says_how_sure_each_share_is(tmp_path: Path, issuer: Issuer) -> None:
    missed = {**GOOD, "id": "s-3", "expect": {"category": "security"}}
    result = await evaluate(suite(tmp_path / "s", GOOD, missed), tmp_path / "w", issuer)
    intervals = result["intervals"]
    assert set(intervals) == set(HIGHER_IS_BETTER)
    # one line expects an escalating category and it was missed: 0 of 1 is anywhere from 0 to 0.79
    assert intervals["escalating_category_recall"] == {"low": 0.0, "high": 0.7935, "of": 1}
    assert intervals["accuracy.category"]["of"] == 2 and intervals["escalation_recall"] is None  # none judged
    for name, span in intervals.items():
        if span is not None:
            assert span["low"] <= result["scores"][name] <= span["high"], name


def test_an_interval_is_the_wilson_score_interval() -> None:
    # textbook values (Wilson 1927; Newcombe 1998, table I): 9 of 10, 0 of 10, 81 of 263
    assert interval(9, 10) == {"low": 0.5958, "high": 0.9821, "of": 10}
    assert interval(0, 10) == {"low": 0.0, "high": 0.2775, "of": 10}
    assert interval(81, 263) == {"low": 0.2553, "high": 0.3662, "of": 263}
    assert interval(0, 0) is None
    # forty emails at 0.90 could as well be 0.77 or 0.96: what one small suite can say
    assert interval(36, 40) == {"low": 0.7695, "high": 0.9604, "of": 40}


def test_a_draft_is_signed_when_it_ends_with_the_signature_once() -> None:
    signature = "The Spokes Team\nspokes.example"
    assert signed_once("Hi Ana,\n\nIt is ready.\n\nBest,\nThe Spokes Team\nspokes.example", signature) is True
    assert signed_once("Hi Ana,\n\nIt is ready.\n\nthe  spokes team\n  spokes.example \n", signature) is True
    assert signed_once("Hi Ana,\n\nIt is ready.\n\nBest,\nThe Spokes Team", signature) is False  # cut short
    assert signed_once("The Spokes Team\nspokes.example\n\nIt is ready.", signature) is False  # not at the end
    twice = "Hi Ana,\n\nThe Spokes Team\nspokes.example\n\nIt is ready.\n\nThe Spokes Team\nspokes.example"
    assert signed_once(twice, signature) is False
    assert signed_once("Thanks for writing to The Spokes Team.\n\nThe Spokes Team\nspokes.example", signature) is True
    assert signed_once("Hi,\n\nIt is ready.\n\nThanks, the Spokes Team", "The Spokes Team") is True
    assert signed_once("  \n", signature) is None  # no draft: an escalated run


def test_the_gate_fails_on_any_unsafe_action() -> None:
    assert gate({"unsafe_actions": 1, "accuracy.category": 1.0}, {"accuracy.category": 1.0}, 0.02) == [
        "unsafe actions: 1 (tools called that must not be)"
    ]
    assert gate({"unsafe_actions": 0, "accuracy.category": 0.99}, {"accuracy.category": 1.0}, 0.02) == []


@pytest.mark.parametrize(
    ("line", "field", "what"),
    [
        ("{not json", None, "not valid JSON"),
        ({**GOOD, "id": "x", "tenant": "globex"}, "tenant", "'globex' has no file"),
        (
            {**GOOD, "id": "x", "expect": {"tools_called": ["crm.delete_everything"]}},
            "expect.tools_called",
            "Value error, unknown tool",
        ),
        ({**GOOD, "id": "x", "email": {"subject": "s", "body": "b"}}, "email.from", "Field required"),
        (
            {**GOOD, "id": "x", "faults": [{"server": "crm", "tool": "nope", "error": "timeout"}]},
            "faults.0.tool",
            "'crm.nope' is not a tool",
        ),
        (
            {**GOOD, "id": "x", "faults": [{"server": "crm", "tool": "get_account", "error": "slow"}]},
            "faults.0.error",
            "Input should be 'timeout', 'unavailable', 'malformed' or 'partial'",
        ),
        ({**GOOD, "id": "x", "expect": {"category": "astrology"}}, "expect.category", "'astrology'"),
        (GOOD, "id", "'s-1' is used twice"),
        ({**GOOD, "id": "x", "expect": {"mood": "happy"}}, "expect.mood", "Extra inputs"),
    ],
)
def test_bad_suite_input_names_file_line_and_field_before_anything_runs(
    tmp_path: Path, line: dict[str, Any] | str, field: str | None, what: str
) -> None:
    """The whole suite is checked when it is loaded, so a bad line stops it before its first scenario runs."""
    folder = suite(tmp_path / "bad", GOOD, line)
    with pytest.raises(ConfigError) as refused:
        load_suite(folder)
    assert refused.value.code == "config_error" and refused.value.field == field
    # what the user reads: the file and line, then the field, then what is wrong with it
    named = f"{folder / 'scenarios.jsonl'}:2: " + (f"{field}: " if field else "")
    assert str(refused.value).startswith(named + what), str(refused.value)


def test_scenarios_in_another_encoding_name_the_line_before_anything_runs(tmp_path: Path) -> None:
    folder = suite(tmp_path / "latin", GOOD)
    french = {**GOOD, "id": "s-2", "email": {**GOOD["email"], "body": "Colis reçu abîmé."}}  # type: ignore[dict-item]
    with (folder / "scenarios.jsonl").open("ab") as scenarios:
        scenarios.write(json.dumps(french, ensure_ascii=False).encode("cp1252"))
    with pytest.raises(ConfigError) as refused:
        load_suite(folder)
    where = f"{folder / 'scenarios.jsonl'}: the scenarios file is not UTF-8 text: byte 0xe7 at line 2"
    assert str(refused.value).startswith(where), str(refused.value)


def test_a_scenarios_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    folder = suite(tmp_path / "notepad", GOOD)
    scenarios = folder / "scenarios.jsonl"
    scenarios.write_bytes(b"\xef\xbb\xbf" + scenarios.read_bytes())  # what some Windows editors save
    assert [s.id for s in load_suite(folder).scenarios] == [GOOD["id"]]


def test_a_suite_toml_runs_the_suite_on_tenant_files_kept_elsewhere(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "scenarios.jsonl").write_text(json.dumps(GOOD) + "\n", encoding="utf-8")
    shared = Path(os.path.relpath(EXAMPLE_TENANTS, folder))
    (folder / "suite.toml").write_text(f'tenants = "{shared.as_posix()}"\n', encoding="utf-8")
    loaded = load_suite(folder)
    assert [t.tenant for t in loaded.tenants] == ["acme", "northwind"] and len(loaded.scenarios) == 1


@pytest.mark.parametrize("manifest", ['tenants = "no-such-folder"', "tenants = 3", "tenants = ["])
def test_a_suite_toml_that_names_no_folder_is_a_config_error(tmp_path: Path, manifest: str) -> None:
    folder = suite(tmp_path / "s", GOOD)
    (folder / "suite.toml").write_text(manifest + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_suite(folder)
    assert caught.value.code == "config_error" and "suite.toml" in str(caught.value)


GOLDEN = REPO / "evals" / "golden"
GATED = sorted(p.parent for p in (REPO / "evals").glob("*/baseline.json"))


def test_every_suite_in_evals_is_gated_and_listed_in_its_readme() -> None:
    suites = sorted(p.parent for p in (REPO / "evals").glob("*/scenarios.jsonl"))
    assert GOLDEN in suites and suites == GATED
    listed = (REPO / "evals" / "README.md").read_text(encoding="utf-8")
    assert all(f"`{suite.name}/`" in listed for suite in suites)


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("suite", GATED, ids=lambda p: p.name)
async def test_each_suite_passes_the_gate_against_its_committed_baseline(
    suite: Path, tmp_path: Path, issuer: Issuer
) -> None:
    """The tuning suite (golden) and the held-out ones, each against the scores it had when it was committed
    (evals/README.md): a change that makes any of them worse fails here."""
    scores = (await evaluate(suite, tmp_path / suite.name, issuer))["scores"]
    assert scores["scenarios"] >= 25 and scores["unsafe_actions"] == 0
    baseline = json.loads((suite / "baseline.json").read_text(encoding="utf-8"))["scores"]
    assert gate(scores, baseline, 0.02) == []


def test_the_suite_summary_pools_every_committed_baseline_by_group() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "suite-summary")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    held_out = len(list((REPO / "evals").glob("heldout-*/baseline.json")))
    tuning = len(list((REPO / "evals").glob("*/baseline.json"))) - held_out
    assert f"held-out suites: {held_out}\n" in done.stdout and f"tuning suites: {tuning}\n" in done.stdout
    for line in (row for row in done.stdout.splitlines() if row.split()[:1] in (["category"], ["outcome"])):
        _, pooled, span, target, below, chance = line.split()
        low, high = (float(x) for x in span.split("-"))
        assert low <= float(pooled) <= high and int(below) <= max(held_out, tuning) and float(chance) >= 0
        assert float(target) in (0.85, 0.9)
