"""Evaluation suites (DESIGN §7): a folder with `tenants/*.yaml` and `scenarios.jsonl`.

Instead of its own `tenants/`, a suite may hold a `suite.toml` naming the folder its tenant files are in
(`tenants = "../../examples/tenants"`, relative to the suite), so it runs on tenant files kept elsewhere
without a copy of them. `load_suite(folder)` reads and checks all of it before anything runs: a mistake
is a `ConfigError` naming the file, the line and the field, and nothing is half-run.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas import ConfigError, Email, Priority, TenantFile, load_tenant_file, read_text_file
from schemas.tools import TOOLS_BY_NAME

Outcome = Literal["completed", "escalated", "awaiting_approval"]
_Strict = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _known_tools(names: list[str]) -> list[str]:
    for name in names:
        if name not in TOOLS_BY_NAME:
            raise ValueError(f"unknown tool {name!r}; expected server.tool, e.g. crm.find_customer")
    return names


class Email_(BaseModel):
    model_config = _Strict

    sender: Email = Field(alias="from")
    subject: str = Field(max_length=300)
    body: str = Field(max_length=50_000)


class Expect(BaseModel):
    model_config = _Strict

    category: str | None = None
    priority: Priority | None = None
    queue: str | None = None
    outcome: Outcome | None = None
    tools_called: list[str] = Field(default_factory=list)
    tools_not_called: list[str] = Field(default_factory=list)
    draft_contains: list[str] = Field(default_factory=list)
    draft_excludes: list[str] = Field(default_factory=list)

    _tools = field_validator("tools_called", "tools_not_called")(_known_tools)


FaultKind = Literal["timeout", "unavailable", "malformed", "partial"]


class Fault(BaseModel):
    """The first `times` calls of `server.tool` go wrong at the server (`coordinator.eval.FaultInjector`):
    `timeout` holds the answer past the caller's deadline, `unavailable` answers that error, `malformed`
    answers a result that fails the tool's output schema, `partial` one cut short."""

    model_config = _Strict

    server: Literal["crm", "helpdesk", "knowledge", "mailbox"]
    tool: str
    error: FaultKind
    times: int = Field(default=1, ge=1, le=100)

    @property
    def qualified(self) -> str:
        return f"{self.server}.{self.tool}"


class Scenario(BaseModel):
    model_config = _Strict

    id: str = Field(min_length=1, max_length=100)
    tenant: str
    email: Email_
    expect: Expect = Expect()
    faults: list[Fault] = Field(default_factory=list)
    promoted_from: str | None = Field(default=None, min_length=1, max_length=100)
    """The run `deskhand eval promote` wrote this line from: its expectations are what that run did, not
    values checked by hand."""


class Suite(BaseModel):
    model_config = ConfigDict(frozen=True)

    folder: Path
    tenants: list[TenantFile]
    scenarios: list[Scenario]


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc if isinstance(p, int) or not str(p).startswith(("function-", "literal[")))


def _tenant_dir(folder: Path) -> Path:
    """The suite's `tenants/`, or the folder its `suite.toml` names."""
    manifest = folder / "suite.toml"
    if not manifest.is_file():
        return folder / "tenants"
    try:
        named = tomllib.loads(read_text_file(manifest, "the suite's manifest")).get("tenants")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{manifest}: not valid TOML: {exc}") from exc
    if not isinstance(named, str) or not (folder / named).is_dir():
        raise ConfigError(
            f"{manifest}: tenants: expected the path of a folder of tenant files, relative to {folder}; got {named!r}",
            field="tenants",
        )
    return folder / named


def load_suite(folder: Path) -> Suite:
    folder = folder.expanduser()
    tenant_dir, scenarios_path = _tenant_dir(folder), folder / "scenarios.jsonl"
    if not tenant_dir.is_dir() or not scenarios_path.is_file():
        raise ConfigError(
            f"{folder}: an evaluation suite has tenants/*.yaml (or a suite.toml naming their folder) "
            "and scenarios.jsonl"
        )
    tenants = [load_tenant_file(p) for p in sorted(tenant_dir.glob("*.y*ml"))]
    if not tenants:
        raise ConfigError(f"{tenant_dir}: no tenant files (*.yaml)")
    by_name = {t.tenant: t for t in tenants}
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for number, line in enumerate(read_text_file(scenarios_path, "the scenarios file").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{scenarios_path}:{number}"
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{where}: not valid JSON: {exc}") from exc
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = _where(first["loc"]) or "(line)"
            field = field.replace("email.sender", "email.from")
            raise ConfigError(f"{where}: {field}: {first['msg']}", field=field) from exc
        if scenario.id in seen:
            raise ConfigError(f"{where}: id: {scenario.id!r} is used twice", field="id")
        seen.add(scenario.id)
        tenant = by_name.get(scenario.tenant)
        if tenant is None:
            raise ConfigError(
                f"{where}: tenant: {scenario.tenant!r} has no file in {tenant_dir}; known: {sorted(by_name)}",
                field="tenant",
            )
        if scenario.expect.category is not None and tenant.policy.category(scenario.expect.category) is None:
            raise ConfigError(
                f"{where}: expect.category: {scenario.expect.category!r} is not a category of {scenario.tenant}",
                field="expect.category",
            )
        for index, fault in enumerate(scenario.faults):
            if fault.qualified not in TOOLS_BY_NAME:
                raise ConfigError(
                    f"{where}: faults.{index}.tool: {fault.qualified!r} is not a tool", field=f"faults.{index}.tool"
                )
        scenarios.append(scenario)
    if not scenarios:
        raise ConfigError(f"{scenarios_path}: no scenarios")
    return Suite(folder=folder, tenants=tenants, scenarios=scenarios)
