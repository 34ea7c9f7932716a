"""Workflows as data: checked against the specialists' models when they load, and run per tenant."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from coordinator._registry import load_specialists
from coordinator._worker import work
from coordinator.workflow import BUILT_IN, Workflow, load_workflow, load_workflows, parse_workflow
from schemas import ConfigError, InboundEmail
from specialists.kit import Manifest
from tests.conftest import REPO
from tests.specialists.harness import World

BUILT_IN_FILE = BUILT_IN / "support-inbox.yaml"


@pytest.fixture(scope="module")
def manifests() -> Mapping[str, Manifest]:
    return {name: s.manifest for name, s in load_specialists().items()}


def built_in() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(BUILT_IN_FILE.read_text(encoding="utf-8"))
    return data


def refused(data: dict[str, Any], manifests: Mapping[str, Manifest]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_workflow(data, manifests, where="flows/mine.yaml")
    assert str(caught.value).startswith("flows/mine.yaml: "), caught.value
    return caught.value


def test_the_built_in_workflow_loads_and_names_its_version(manifests: Mapping[str, Manifest]) -> None:
    workflow = load_workflow(BUILT_IN_FILE, manifests)
    assert workflow.name == "support-inbox" and workflow.file.start == "triage" and len(workflow.version) == 16
    assert load_workflow(BUILT_IN_FILE, manifests).version == workflow.version  # the same content, the same version


def test_an_unknown_specialist_is_an_error_naming_the_step(manifests: Mapping[str, Manifest]) -> None:
    data = built_in()
    data["steps"]["drafting"]["specialist"] = "ghostwriter"
    error = refused(data, manifests)
    assert error.field == "steps.drafting.specialist" and "ghostwriter" in error.message


def test_a_condition_on_a_field_the_output_lacks_is_an_error(manifests: Mapping[str, Manifest]) -> None:
    data = built_in()
    data["steps"]["triage"]["next"][0]["when"] = {"triage.escalated": True}
    error = refused(data, manifests)
    assert error.field == "steps.triage.next[0].when.triage.escalated"
    assert "TriageResult has no field 'escalated'" in error.message


def test_an_input_the_recipients_model_cannot_accept_is_an_error(manifests: Mapping[str, Manifest]) -> None:
    data = built_in()
    data["steps"]["compliance"]["next"][1]["input"]["triage"] = "drafting"  # a DraftReply where a TriageResult goes
    error = refused(data, manifests)
    assert error.field == "steps.compliance.next[1].input.triage"
    assert "WriterInput.triage takes TriageResult, not DraftReply" in error.message


def test_an_input_missing_a_required_field_is_an_error(manifests: Mapping[str, Manifest]) -> None:
    data = built_in()
    del data["steps"]["triage"]["next"][1]["input"]["triage"]
    error = refused(data, manifests)
    assert error.field == "steps.triage.next[1].input" and "DraftingInput needs triage" in error.message


def test_an_unreachable_step_is_an_error(manifests: Mapping[str, Manifest]) -> None:
    data = built_in()
    data["steps"]["triage"]["next"] = [data["steps"]["triage"]["next"][0]]  # nothing goes to drafting any more
    error = refused(data, manifests)
    assert error.field in {"steps.drafting", "steps.compliance"} and "reaches this step" in error.message


def test_a_loop_without_a_limit_is_an_error(manifests: Mapping[str, Manifest]) -> None:
    data = built_in()
    del data["steps"]["compliance"]["next"][0]["limit"]
    error = refused(data, manifests)
    assert error.field.startswith("steps.") and "has no edge with a `limit`" in error.message
    assert "compliance" in error.message and "drafting" in error.message


def test_a_workflow_whose_first_step_does_not_take_its_event_is_an_error(manifests: Mapping[str, Manifest]) -> None:
    error = refused({**built_in(), "event": "account_review"}, manifests)
    assert error.field == "start"
    assert "step 'triage' takes a InboundEmail, not the account_review event (AccountReviewRequest)" in error.message
    review = load_workflow(BUILT_IN / "account-review.yaml", manifests)
    assert review.file.event == "account_review" and review.file.start == "account_summary"


def test_a_step_may_not_take_a_name_the_results_keep(manifests: Mapping[str, Manifest]) -> None:
    data = built_in()
    data["steps"]["revision"] = data["steps"].pop("drafting")
    assert refused(data, manifests).field == "steps.revision"


def test_a_bad_file_is_an_error_naming_it(tmp_path: Path, manifests: Mapping[str, Manifest]) -> None:
    (tmp_path / "broken.yaml").write_text("workflow: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.yaml: not a readable YAML file"):
        load_workflows(tmp_path, manifests)
    (tmp_path / "broken.yaml").write_bytes("# Café workflow\n".encode("cp1252") + yaml.safe_dump(built_in()).encode())
    with pytest.raises(ConfigError, match="broken.yaml: the workflow is not UTF-8 text: byte 0xe9 at line 1, column 6"):
        load_workflows(tmp_path, manifests)
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump({**built_in(), "start": "nobody"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.yaml: start: no step named 'nobody'"):
        load_workflows(tmp_path, manifests)
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(built_in()), encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.yaml: workflow: 'support-inbox' is already defined"):
        load_workflows(tmp_path, manifests)


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_pip_installed_specialist_runs_in_one_tenants_workflow_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world: World
) -> None:
    target = tmp_path / "site"
    installed = subprocess.run(  # noqa: ASYNC221 - a one-off install before the async part
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target",
         str(target), str(REPO / "examples" / "specialist-package")],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    monkeypatch.syspath_prepend(str(target))
    specialists = load_specialists()
    manifests = {name: s.manifest for name, s in specialists.items()}
    workflows = load_workflows(REPO / "examples" / "workflows", manifests)
    assert {"support-inbox", "support-mood"} <= set(workflows)

    acme, northwind = world.tenants["acme"], world.tenants["northwind"]
    policies = {
        "acme": acme.policy.model_copy(update={"workflow": "support-mood"}),
        "northwind": northwind.policy,  # the built-in flow
    }
    upset = "This is unacceptable. I am furious: how do I export last month's report to CSV?"
    enterprise = next(c for c in acme.customers if c.plan == "enterprise")
    async with world.runtime(f"sqlite:///{tmp_path / 'runs.db'}") as runtime:
        runtime.specialists, runtime.policies, runtime.workflows = specialists, policies, workflows
        acme_run, _ = runtime.submit("acme", InboundEmail(sender=enterprise.email, subject="Export", body=upset))
        nw_run, _ = runtime.submit(
            "northwind", InboundEmail(sender=northwind.customers[0].email, subject="Sizing", body=upset)
        )
        await work(runtime, until_idle=True, poll_seconds=0.01)
        mood_run, built_in_run = runtime.store.run(acme_run), runtime.store.run(nw_run)
    assert "sentiment" in mood_run.result and mood_run.result["sentiment"]["mood"] == "upset"
    assert mood_run.status == "escalated" and "upset customer on a high-value plan" in mood_run.reason
    assert "crm_writer" in mood_run.result and "drafting" not in mood_run.result  # the ticket is written, no draft
    assert "sentiment" not in built_in_run.result and "triage" in built_in_run.result


def _escalate_at_triage(manifests: Mapping[str, Manifest]) -> Workflow:
    """support-inbox, changed: every email goes from triage straight to the writer and escalates."""
    data = built_in()
    data["description"] = "changed: everything goes to a person"
    data["steps"] = {
        "triage": {
            "specialist": "triage",
            "next": [
                {"to": "crm_writer", "input": {"run_id": "run.id", "triage": "triage", "draft": None, "verdict": None}}
            ],
        },
        "crm_writer": {"specialist": "crm_writer", "next": [{"end": "escalated", "reason": "the changed workflow"}]},
    }
    return parse_workflow(data, manifests, where="changed.yaml")


@pytest.mark.anyio
async def test_a_run_finishes_on_the_workflow_version_it_started_on(
    tmp_path: Path, world: World, manifests: Mapping[str, Manifest]
) -> None:
    email = InboundEmail(
        sender=world.tenants["acme"].customers[0].email, subject="Invoice", body="Where is my invoice?"
    )
    store_url = f"sqlite:///{tmp_path / 'runs.db'}"
    async with world.runtime(store_url) as runtime:
        before, _ = runtime.submit("acme", email)  # on the built-in support-inbox
        original = runtime.workflows["support-inbox"].version
    changed = _escalate_at_triage(manifests)
    assert changed.version != original
    async with world.runtime(store_url) as runtime:  # a new process, with the file changed
        runtime.workflows = {"support-inbox": changed}
        after, _ = runtime.submit("acme", email.model_copy(update={"subject": "Invoice copy"}))
        await work(runtime, until_idle=True, poll_seconds=0.01)
        old_run, new_run = runtime.store.run(before), runtime.store.run(after)
    assert old_run.result["workflow"] == {"name": "support-inbox", "version": original}
    assert "drafting" in old_run.result and old_run.status != "escalated"  # the flow it started on
    assert new_run.result["workflow"]["version"] == changed.version
    assert new_run.status == "escalated" and new_run.reason == "the changed workflow"


@pytest.mark.anyio
async def test_a_run_whose_workflow_is_gone_escalates_saying_so(tmp_path: Path, world: World) -> None:
    email = InboundEmail(
        sender=world.tenants["acme"].customers[0].email, subject="Invoice", body="Where is my invoice?"
    )
    store_url = f"sqlite:///{tmp_path / 'runs.db'}"
    async with world.runtime(store_url) as runtime:
        run_id, _ = runtime.submit("acme", email)
        version = runtime.workflows["support-inbox"].version
    engine = create_engine(store_url)
    with engine.begin() as connection:  # the stored version removed, and the process restarted with another
        connection.execute(text("DELETE FROM coord_workflow WHERE version = :v"), {"v": version})
    engine.dispose()
    async with world.runtime(store_url) as runtime:
        runtime.workflows = {"support-inbox": _escalate_at_triage(runtime.versions.manifests)}
        runtime.versions.by_version.clear()
        await work(runtime, until_idle=True, poll_seconds=0.01)
        run = runtime.store.run(run_id)
    assert run.status == "escalated" and f"version {version} this run started on is gone" in run.reason
