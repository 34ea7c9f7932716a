"""`deskhand init`: the home's keys, config and server databases, and the tenants loaded into them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer

from coordinator._home import Home
from coordinator._submission import LOADED_FILE, loaded
from coordinator._tokens import DevKeys, signing_key_variable
from coordinator.cli._context import globals_of, out, print_json
from schemas import ConfigError, TenantFile, load_tenant_file


def _digest(tenant: TenantFile) -> str:
    return hashlib.sha256(tenant.model_dump_json().encode()).hexdigest()


def _check_workflows(home: Home, paths: list[Path], files: list[TenantFile]) -> None:
    """Each tenant names a workflow that loads (the built-in ones and the home's `workflows/`), checked against the
    installed specialists: a file naming another is refused before anything is written."""
    from coordinator._registry import load_manifests
    from coordinator.workflow import load_workflows

    manifests = load_manifests()
    workflows = load_workflows(home.workflows_dir, manifests)
    for path, file in zip(paths, files, strict=True):
        if file.policy.workflow not in workflows:
            raise ConfigError(
                f"{path}: policy.workflow: no workflow {file.policy.workflow!r} (loaded: "
                f"{', '.join(sorted(workflows))}; add yours to {home.workflows_dir})",
                field="policy.workflow",
            )


def _check_pin(home: Home, tenant: str, files: list[TenantFile]) -> None:
    """A tenant is pinned when its data is first loaded: pinned later, its rows would stay in the shared servers."""
    if tenant in home.pinned:
        return
    if tenant in home.tenants:
        raise ConfigError(
            f"--pin {tenant}: the tenant is already loaded into the shared servers of {home.path}; pinning it now "
            "would leave its rows there. Pin a tenant when it is first loaded (in a new home, or before its data is)",
            field="pin",
        )
    if tenant not in {f.tenant for f in files}:
        raise ConfigError(
            f"--pin {tenant}: give its tenant file in the same run (deskhand init --pin {tenant} --tenants FILE)",
            field="pin",
        )


def init(
    ctx: typer.Context,
    tenants: Annotated[
        list[Path] | None,
        typer.Option(
            "--tenants",
            metavar="FILE...",
            help="Tenant files (YAML) to load: several after one flag (a shell glob), or the flag repeated.",
        ),
    ] = None,
    more: Annotated[
        list[Path] | None, typer.Argument(metavar="FILE", help="More tenant files, as after --tenants.")
    ] = None,
    pin: Annotated[
        list[str] | None,
        typer.Option(
            "--pin",
            metavar="TENANT",
            help="Give this tenant servers of its own (the isolation tier): its own databases and signing key, "
            "[pinned.TENANT.NAME] in deskhand.toml; its tenant file must be loaded in the same run. Repeatable.",
        ),
    ] = None,
) -> None:
    """Create the keys, databases and config, and load tenant files (safe to run again); --pin gives a tenant
    servers of its own."""
    from coordinator.cli import _serve

    options = globals_of(ctx)
    paths = list(dict.fromkeys([*(tenants or []), *(more or [])]))
    files = [load_tenant_file(p) for p in paths]  # validate every file before touching anything
    path = options.home_path
    home = Home.load(path) if (path / "deskhand.toml").exists() else Home.defaults(path)
    _check_workflows(home, paths, files)
    for tenant in pin or []:
        _check_pin(home, tenant, files)
        home = home.with_pin(tenant)
    home = home.with_tenants([f.tenant for f in files])
    DevKeys.create(
        home.keys_dir, variable=signing_key_variable()
    )  # refuses an existing key file others may read, before anything is written
    for tenant in home.pinned:
        DevKeys.create(home.tenant_keys_dir(tenant), variable=signing_key_variable(tenant))
    home.save()
    _serve.prepare(home, files)
    before = loaded(home)
    after = {
        **before,
        **{
            f.tenant: {
                "digest": _digest(f),
                "limits": f.policy.limits.model_dump(mode="json"),
                "workflow": f.policy.workflow,
            }
            for f in files
        },
    }
    record = home.path / "data" / LOADED_FILE
    record.write_text(json.dumps(after, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tenants_said = {
        f.tenant: "unchanged" if before.get(f.tenant, {}).get("digest") == _digest(f) else "loaded" for f in files
    }
    if options.json:
        print_json(
            {
                "home": str(home.path),
                "config": str(home.config_path),
                "jwks": str(home.jwks_path),
                "servers": {name: {"url": s.url, "db": s.db} for name, s in home.servers.items()},
                "pinned": {
                    tenant: {name: {"url": s.url, "db": s.db} for name, s in tier.items()}
                    for tenant, tier in home.pinned.items()
                },
                "tenants": tenants_said,
            }
        )
        return
    out.print(f"[green]ready[/]: {home.path}")
    out.print(f"  config  {home.config_path}")
    out.print(f"  jwks    {home.jwks_path}")
    for name, server in home.servers.items():
        out.print(f"  {name:<9} {server.url}  ({server.db})", highlight=False, soft_wrap=True)
    for tenant, tier in home.pinned.items():
        out.print(f"  pinned to {tenant} (keys {home.tenant_keys_dir(tenant)}):", highlight=False, soft_wrap=True)
        for name, server in tier.items():
            out.print(f"    {name:<9} {server.url}  ({server.db})", highlight=False, soft_wrap=True)
    for tenant, said in tenants_said.items():
        where = "into every server's database" if said == "loaded" else "(the same file as before)"
        out.print(f"  {tenant}: {said} {where}", highlight=False, soft_wrap=True)
    if not files:
        out.print("  no tenants given: pass --tenants examples/tenants/*.yaml")
