"""Running the real `deskhand` command in tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

DESKHAND = str(Path(sys.executable).parent / "deskhand")
ACME = str(REPO / "examples" / "tenants" / "acme.yaml")
NORTHWIND = str(REPO / "examples" / "tenants" / "northwind.yaml")


def deskhand(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    full_env.pop("DESKHAND_HOME", None)
    return subprocess.run(
        [DESKHAND, *args], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=REPO, check=False
    )
