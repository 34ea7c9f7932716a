"""The rules between the packages, the public names of each, and the static checks."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ["schemas", "mcp_servers", "specialists", "coordinator"]


def test_every_package_declares_its_public_names() -> None:
    for top in PACKAGES:
        package = importlib.import_module(top)
        modules = [package] + [
            importlib.import_module(info.name)
            for info in pkgutil.walk_packages(package.__path__, prefix=f"{top}.")
            if info.ispkg and not info.name.rsplit(".", 1)[-1].startswith("_")
        ]
        for module in modules:
            exported = getattr(module, "__all__", None)
            assert exported is not None, f"{module.__name__} has no __all__"
            missing = [name for name in exported if not hasattr(module, name)]
            assert not missing, f"{module.__name__}.__all__ names what it lacks: {missing}"
            assert module.__doc__, f"{module.__name__} has no docstring saying what lives there"


@pytest.mark.slow
def test_scripts_check_passes() -> None:
    """ruff, ruff format, mypy strict and the import rules, as `scripts/check` runs them (the loop runs it directly)."""
    tools = str(Path(sys.executable).parent)
    result = subprocess.run(
        [str(REPO / "scripts" / "check")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "scripts/check: all steps passed" in result.stdout


def test_every_package_is_installed() -> None:
    """pyproject.toml names its packages (the examples are mapped to `deskhand_examples`): a new one must be listed."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for top in PACKAGES for p in (REPO / top).rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
