"""`deskhand new specialist|server NAME`: a package that installs with pip and passes its own tests; names and
target folders checked in process."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import pytest

from specialists.kit import ENTRY_POINT_GROUP
from tests.conftest import REPO
from tests.coordinator.cli_helpers import cli


def test_new_specialist_writes_a_package_whose_entry_point_names_its_specialist(tmp_path: Path) -> None:
    target = tmp_path / "tone"
    result = cli("new", "specialist", "tone_check", "--dir", str(target))
    assert result.exit_code == 0, result.stderr
    project = tomllib.loads((target / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "deskhand-tone-check"
    assert project["dependencies"] == [f"deskhand>={version('deskhand')}"]
    assert project["entry-points"] == {ENTRY_POINT_GROUP: {"tone_check": "deskhand_tone_check:specialist"}}
    written = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert written == {
        "pyproject.toml",
        "README.md",
        "deskhand_tone_check/__init__.py",
        "deskhand_tone_check/py.typed",
        "tests/conftest.py",
        "tests/test_tone_check.py",
    }
    for path in target.rglob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    readme = (target / "README.md").read_text(encoding="utf-8")
    assert f"pip install -e {target}" in readme and "pytest" in readme
    assert str(target) in result.stdout


def test_new_specialist_writes_to_deskhand_name_in_the_current_folder_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("new", "specialist", "tone_check")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "deskhand-tone_check" / "deskhand_tone_check" / "__init__.py").is_file()


@pytest.mark.parametrize("name", ["Tone", "tone-check", "2tone", "t", "tone check", "class_" + "x" * 40])
def test_new_specialist_refuses_a_name_that_is_not_a_lower_case_identifier(tmp_path: Path, name: str) -> None:
    result = cli("new", "specialist", name, "--dir", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "NAME" in result.stderr and "lower-case Python identifier" in result.stderr
    assert not (tmp_path / "out").exists()


def test_new_specialist_refuses_the_name_of_a_built_in(tmp_path: Path) -> None:
    result = cli("new", "specialist", "triage", "--dir", str(tmp_path / "out"))
    assert result.exit_code == 2 and "built-in" in result.stderr
    assert not (tmp_path / "out").exists()


def test_new_specialist_refuses_a_folder_that_is_not_empty_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    refused = cli("new", "specialist", "tone_check", "--dir", str(target))
    assert refused.exit_code == 1 and "error (conflict)" in refused.stderr and "--force" in refused.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    forced = cli("new", "specialist", "tone_check", "--dir", str(target), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert (target / "pyproject.toml").is_file() and (target / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_new_specialist_refuses_a_file_as_its_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("mine", encoding="utf-8")
    result = cli("new", "specialist", "tone_check", "--dir", str(tmp_path / "file"), "--force")
    assert result.exit_code == 1 and "error (conflict)" in result.stderr
    assert (tmp_path / "file").read_text(encoding="utf-8") == "mine"


def test_new_specialist_readme_quotes_a_folder_with_a_space_for_the_shell(tmp_path: Path) -> None:
    target = tmp_path / "my specialists"
    assert cli("new", "specialist", "tone_check", "--dir", str(target)).exit_code == 0
    readme = (target / "README.md").read_text(encoding="utf-8")
    assert f"pip install -e '{target}'\n" in readme and f"pip install -e '{target}[test]'\n" in readme


def test_new_specialist_writes_into_an_empty_folder(tmp_path: Path) -> None:
    result = cli("new", "specialist", "tone_check", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "pyproject.toml").is_file()


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False, timeout=600)


@contextmanager
def installed_and_tested(kind: str, name: str, target: Path, *, dist: str, passed: int) -> Iterator[None]:
    """`deskhand new KIND NAME` as a user takes it: `pip install -e` into this venv, its own tests run with pytest in
    its folder and passing; the block runs with it installed, and it is uninstalled after."""
    result = cli("new", kind, name, "--dir", str(target))
    assert result.exit_code == 0, result.stderr
    pip = [sys.executable, "-m", "pip"]
    installed = _run(*pip, "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", str(target))
    try:
        assert installed.returncode == 0, installed.stderr
        tested = _run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=target)
        assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
        assert re.search(rf"^{passed} passed", tested.stdout, flags=re.M), tested.stdout[-3000:]
        yield
    finally:
        removed = _run(*pip, "uninstall", "--yes", dist)
        assert removed.returncode == 0, removed.stderr


@pytest.mark.slow
def test_a_new_specialist_installs_with_pip_and_passes_its_own_tests(tmp_path: Path) -> None:
    """The scaffold as a user takes it: `pip install -e` into this venv (uninstalled after) and its own tests, run
    with pytest in the package's folder, pass against the reference MCP servers."""
    with installed_and_tested("specialist", "tone_check", tmp_path / "tmp", dist="deskhand-tone-check", passed=4):
        pass


def test_every_template_is_package_data_in_pyproject() -> None:
    """A wheel holds the templates only if pyproject's package data names them (an editable install does not tell)."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    cli_dir = REPO / "coordinator" / "cli"
    shipped = {path for pattern in setuptools["package-data"]["coordinator.cli"] for path in cli_dir.glob(pattern)}
    templates = {path for path in (cli_dir / "templates").rglob("*") if path.is_file()}
    assert templates and templates == shipped


def test_new_server_writes_a_package_whose_entry_point_names_its_server(tmp_path: Path) -> None:
    from mcp_servers.kit import SERVERS_ENTRY_POINT_GROUP

    target = tmp_path / "orders"
    result = cli("new", "server", "orders", "--dir", str(target))
    assert result.exit_code == 0, result.stderr
    project = tomllib.loads((target / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "deskhand-orders-server"
    assert project["entry-points"] == {SERVERS_ENTRY_POINT_GROUP: {"orders": "deskhand_orders_server:package"}}
    written = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert written == {
        "pyproject.toml",
        "README.md",
        "deskhand_orders_server/__init__.py",
        "deskhand_orders_server/py.typed",
        "tests/test_orders.py",
    }
    readme = (target / "README.md").read_text(encoding="utf-8")
    assert "deskhand server serve orders" in readme and "orders:read" in readme


@pytest.mark.parametrize("name", ["crm", "knowledge", "kb", "mail", "Orders", "o", "x" * 33])
def test_new_server_refuses_a_built_in_name_or_one_that_is_no_server_name(tmp_path: Path, name: str) -> None:
    result = cli("new", "server", name, "--dir", str(tmp_path / "out"))
    assert result.exit_code == 2 and "NAME" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_new_server_installs_with_pip_and_passes_its_own_tests(tmp_path: Path) -> None:
    """As a user takes it: `pip install -e` into this venv (uninstalled after); its own tests pass, and deskhand finds
    it beside the four."""
    with installed_and_tested("server", "ledger", tmp_path / "tmp", dist="deskhand-ledger-server", passed=3):
        listed = _run(sys.executable, "-m", "coordinator.cli", "--home", str(tmp_path / "home"), "init")
        assert listed.returncode == 0, listed.stderr
        assert "ledger" in (tmp_path / "home" / "deskhand.toml").read_text(encoding="utf-8")
