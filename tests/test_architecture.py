"""The rules between the packages, the public names of each, and the static checks."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ["schemas", "mcp_servers", "specialists", "coordinator"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)


def test_import_rules_hold() -> None:
    result = run(str(Path(sys.executable).parent / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower() or "0 broken" in result.stdout.lower()


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


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    result = run(ruff, "check", *PACKAGES, "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
