"""The IDE and desktop configurations in docs/ide-clients.md work as written: the Claude Desktop block is run
and the configuration it writes starts the stdio server; the VS Code one reaches the HTTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from coordinator import Home
from coordinator.cli._processes import free_port, running_servers
from tests.coordinator.cli_helpers import ACME, NORTHWIND, deskhand
from tests.test_docs import blocks


def init_home(tmp_path: Path) -> Path:
    home = tmp_path / ".deskhand"
    assert deskhand("init", "--home", str(home), "--tenants", ACME, "--tenants", NORTHWIND).returncode == 0
    return home


@pytest.mark.slow
def test_claude_desktop_config_runs_the_stdio_server(tmp_path: Path) -> None:
    [block] = blocks("docs/ide-clients.md", "sh")
    home = init_home(tmp_path)
    env = {**os.environ, "DESKHAND_HOME": str(home)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(["bash", "-ec", block], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    entry = json.loads((tmp_path / "claude_desktop_config.json").read_text())["mcpServers"]["deskhand-crm"]
    assert Path(entry["command"]) == Path(sys.executable).parent / "deskhand"
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry["env"])

    async def main() -> list[str]:
        async with Client(params) as client:
            result = await client.call_tool("find_customer", {"email": "priya.raman@brightloop.example.com"})
            assert result.structured_content is not None and result.structured_content["customer"]["id"] == "C-101"
            return [t.name for t in (await client.list_tools()).tools]

    assert sorted(anyio.run(main)) == ["find_customer", "get_account", "list_interactions"]


@pytest.mark.slow
def test_vscode_config_reaches_the_http_server_with_the_bearer_token(tmp_path: Path) -> None:
    [block] = blocks("docs/ide-clients.md", "json")
    entry = json.loads(block)["servers"]["deskhand-crm"]
    assert entry["type"] == "http" and entry["url"] == "http://127.0.0.1:8701/mcp"
    home_path = init_home(tmp_path)
    home = Home.load(home_path)
    # The guide's port may be taken on a test machine: same config, the port swapped for a free one.
    url = entry["url"].replace("8701", str(free_port()))
    moved = home.with_servers({**home.servers, "crm": type(home.servers["crm"])("crm", url, home.servers["crm"].db)})
    moved.save()
    token = deskhand(
        "token", "mint", "--home", str(home_path), "--tenant", "northwind", "--scopes", "crm:read"
    ).stdout.strip()
    # What VS Code does with the token it asked for: ${input:deskhand-token} is replaced by it.
    headers = {k: v.replace("${input:deskhand-token}", token) for k, v in entry["headers"].items()}
    with running_servers(moved, only=["crm"]):

        async def main() -> list[str]:
            async with (
                httpx2.AsyncClient(headers=headers) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                return [t.name for t in (await client.list_tools()).tools]

        assert sorted(anyio.run(main)) == ["find_customer", "get_account", "list_interactions"]
