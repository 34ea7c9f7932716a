"""The README and docs/ hold together: links resolve, the README stays short, the guides' samples run."""

from __future__ import annotations

import json
import os
import re
import runpy
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from schemas import InboundEmail
from tests.conftest import REPO

PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", REPO / "bench" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def code_blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


def test_docs_has_one_page_per_guide() -> None:
    names = {p.name for p in (REPO / "docs").glob("*.md")}
    assert names >= {
        "running.md",
        "boundary.md",
        "ide-clients.md",
        "writing-a-server.md",
        "writing-a-specialist.md",
        "tenant-files.md",
        "evaluation.md",
        "scaling.md",
        "architecture.md",
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_points_to_a_file_that_exists(page: Path) -> None:
    targets = [t for t in LINK.findall(page.read_text(encoding="utf-8")) if not re.match(r"[a-z]+:", t)]
    missing = [t for t in targets if not t.startswith("#") and not (page.parent / t.split("#")[0]).exists()]
    assert missing == []


def test_every_page_is_linked_from_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = {(REPO / t.split("#")[0]).resolve() for t in LINK.findall(readme) if not re.match(r"[a-z]+:", t)}
    assert {p.resolve() for p in PAGES[1:]} <= linked


def test_readme_stays_a_short_users_guide() -> None:
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 220


def test_readme_keeps_the_test_command_that_ci_runs_verbatim() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci in code_blocks(REPO / "README.md", "sh")[1]


def test_no_two_guides_start_a_server_on_the_same_port() -> None:
    ports: list[str] = []
    for page in PAGES:
        for block in code_blocks(page, "sh"):
            ports += re.findall(r"--http 127\.0\.0\.1:(\d+)", block)
            loop = re.search(r"for s in ([^;]+); do\s+deskhand serve", block)
            ports += re.findall(r":(\d+)", loop.group(1)) if loop else []
    assert ports and len(ports) == len(set(ports)), ports


def test_running_guide_client_reads_the_token_the_previous_step_exports() -> None:
    page = REPO / "docs" / "running.md"
    [snippet] = code_blocks(page, "python")
    assert "<token>" not in snippet and 'os.environ["TOKEN"]' in snippet
    assert any(line.startswith("export TOKEN=") for b in code_blocks(page, "sh") for line in b.splitlines())


def test_running_guide_sample_email_is_a_valid_email() -> None:
    page = (REPO / "docs" / "running.md").read_text(encoding="utf-8")
    [path] = re.findall(r"deskhand submit (\S+)", page)
    data = json.loads((REPO / path).read_text(encoding="utf-8"))
    assert InboundEmail.model_validate({"sender": data.pop("from"), **data}).subject


def test_readme_guarded_server_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [snippet] = code_blocks(REPO / "README.md", "python")
    assert len(snippet.splitlines()) <= 30
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "server.py"
    script.write_text(snippet + "server.create_tables()\n", encoding="utf-8")
    runpy.run_path(str(script))
    with sqlite3.connect(tmp_path / "orders.db") as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "order" in tables


@pytest.mark.slow
def test_running_guide_runs_as_written(tmp_path: Path) -> None:
    """Each block of docs/running.md, in order, from the repository's root; only the servers' ports are moved
    to free ones (the guide's may be taken here) and the approval's id and hash filled in from the list."""
    from coordinator import Home
    from coordinator.cli._processes import free_port, running_servers

    page = REPO / "docs" / "running.md"
    init, serve, mint, coordinate, decide = code_blocks(page, "sh")
    [client] = code_blocks(page, "python")
    env = {**os.environ, "DESKHAND_HOME": str(tmp_path / "home"), "COLUMNS": "250"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"

    def sh(script: str) -> str:
        done = subprocess.run(["bash", "-ec", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    sh(init)
    assert "deskhand serve" in serve
    home = Home.load(tmp_path / "home")
    ports = {n: free_port() for n in home.servers}
    home = home.with_servers({n: type(s)(n, f"http://127.0.0.1:{ports[n]}/mcp", s.db) for n, s in home.servers.items()})
    home.save()
    (tmp_path / "client.py").write_text(client.replace(":8701/", f":{ports['crm']}/"), encoding="utf-8")
    with running_servers(home):
        printed = sh(f"{mint}\n{sys.executable} {tmp_path / 'client.py'}")
        assert "['find_customer', 'get_account', 'list_interactions']" in printed and "C-101" in printed
        listed = sh(coordinate)
        approval = re.search(r"AP-[0-9a-f]+", listed)
        digest = re.search(r"\b[0-9a-f]{64}\b", listed)
        assert approval and digest, listed
        decided = sh(
            'export DESKHAND_APPROVER_TOKEN="$(deskhand token mint --tenant acme --role approver '
            '--audience http://127.0.0.1:8700/approvals)"\n'
            + decide.replace("AP-...", approval.group(0)).replace("<the hash shown>", digest.group(0))
        )
    assert "executed" in decided
