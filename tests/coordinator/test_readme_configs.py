"""The IDE and desktop configurations in docs/ide-clients.md work as written (placeholders filled in)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from coordinator import Home
from coordinator.cli._processes import free_port, running_servers
from tests.conftest import REPO
from tests.coordinator.cli_helpers import ACME, DESKHAND, NORTHWIND, deskhand


def readme_json_blocks() -> list[dict[str, object]]:
    text = (REPO / "docs" / "ide-clients.md").read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, flags=re.S)]


def init_home(tmp_path: Path) -> Path:
    home = tmp_path / ".deskhand"
    assert deskhand("init", "--home", str(home), "--tenants", ACME, "--tenants", NORTHWIND).returncode == 0
    return home


def test_claude_desktop_config_runs_the_stdio_server(tmp_path: Path) -> None:
    [config] = [b for b in readme_json_blocks() if "mcpServers" in b]
    entry = config["mcpServers"]["deskhand-crm"]  # type: ignore[index]
    home = init_home(tmp_path)
    token = deskhand(
        "token", "mint", "--home", str(home), "--tenant", "acme", "--role", "reader", "--ttl", "30d"
    ).stdout.strip()
    assert entry["command"].endswith("/.venv/bin/deskhand")
    args = [str(home) if a == "/absolute/path/to/.deskhand" else a for a in entry["args"]]
    env = {k: token if v == "<the token>" else v for k, v in entry["env"].items()}
    params = StdioServerParameters(command=DESKHAND, args=args, env=env)

    async def main() -> list[str]:
        async with Client(params) as client:
            result = await client.call_tool("find_customer", {"email": "priya.raman@brightloop.example.com"})
            assert result.structured_content is not None and result.structured_content["customer"]["id"] == "C-101"
            return [t.name for t in (await client.list_tools()).tools]

    assert sorted(anyio.run(main)) == ["find_customer", "get_account", "list_interactions"]


def test_vscode_config_reaches_the_http_server_with_the_bearer_token(tmp_path: Path) -> None:
    [config] = [b for b in readme_json_blocks() if "servers" in b and "inputs" in b]
    entry = config["servers"]["deskhand-crm"]  # type: ignore[index]
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
    headers = {k: v.replace("${input:deskhand-token}", token) for k, v in entry["headers"].items()}
    with running_servers(moved, only=["crm"]):

        async def main() -> list[str]:
            async with (
                httpx2.AsyncClient(headers=headers) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                return [t.name for t in (await client.list_tools()).tools]

        assert sorted(anyio.run(main)) == ["find_customer", "get_account", "list_interactions"]
