"""Running the `deskhand` command in tests: in process (Typer's `CliRunner`) for arguments, validation and
output; as a real process only where the process boundary is the point (stdio, HTTP serving, signals, the demo)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from typer.testing import CliRunner, Result

from coordinator.cli import app
from tests.conftest import REPO

if TYPE_CHECKING:
    from coordinator import Home

DESKHAND = str(Path(sys.executable).parent / "deskhand")
ACME = str(REPO / "examples" / "tenants" / "acme.yaml")
NORTHWIND = str(REPO / "examples" / "tenants" / "northwind.yaml")


def cli(*args: str, env: dict[str, str] | None = None, columns: int = 200) -> Result:
    """`deskhand ARGS` in this process; `.exit_code`, `.stdout` and `.stderr` as the process would have them."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns), "DESKHAND_HOME": None, **(env or {})})


def deskhand(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`deskhand ARGS` as a process of its own (for what needs the process boundary)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    full_env.pop("DESKHAND_HOME", None)
    return subprocess.run(
        [DESKHAND, *args], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=REPO, check=False
    )


def init_on_free_ports(path: Path, *tenant_files: str) -> Home:
    """`deskhand init` into `path` with these tenant files, the servers moved to free ports on 127.0.0.1."""
    from coordinator import Home
    from coordinator.cli._processes import free_port

    result = cli("--home", str(path), "init", *(arg for f in tenant_files for arg in ("--tenants", f)))
    assert result.exit_code == 0, result.stderr
    home = Home.load(path)
    home = home.with_servers(
        {n: type(s)(n, f"http://127.0.0.1:{free_port()}/mcp", s.db) for n, s in home.servers.items()}
    )
    home.save()
    return home
