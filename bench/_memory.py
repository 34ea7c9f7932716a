"""Memory under sustained load: RSS of a guarded server process before and after 10,000 calls across
1,000 tenants (each with its own token), compared with its RSS after a short warm-up."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench._boundary import _process, _setup
from bench._serve import ISSUER
from coordinator._tokens import TokenIssuer


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def run(size: str) -> dict[str, Any]:
    tenants, per_tenant = {"tiny": (20, 5), "small": (200, 10), "full": (1000, 10)}[size]
    with tempfile.TemporaryDirectory(prefix="deskhand-bench-mem-") as tmp:
        directory = Path(tmp)
        db_url, keys = _setup(directory)
        issuer = TokenIssuer(keys, issuer=ISSUER)
        async with _process("guarded", db_url, directory / "keys") as url:
            server_pid = _pid_listening(url)

            async def tenant_calls(index: int) -> None:
                token = issuer.mint(tenant=f"t{index:04d}", scopes=["crm:read"], audience=url)
                async with (
                    httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
                    Client(streamable_http_client(url, http_client=http)) as client,
                ):
                    for _ in range(per_tenant):
                        await client.call_tool("find_customer", {"email": "nobody@example.com"})

            for index in range(min(20, tenants)):  # warm-up
                await tenant_calls(index)
            warm = _rss_kib(server_pid)
            limiter = anyio.CapacityLimiter(8)

            async def limited(index: int) -> None:
                async with limiter:
                    await tenant_calls(index)

            async with anyio.create_task_group() as tg:
                for index in range(tenants):
                    tg.start_soon(limited, index)
            after = _rss_kib(server_pid)
    return {
        "tenants": tenants,
        "calls": tenants * per_tenant,
        "server_rss_kib_after_warmup": warm,
        "server_rss_kib_after_load": after,
        "ratio_after_to_warmup": after / warm if warm else None,
    }


def _pid_listening(url: str) -> int:
    """The pid of the process listening on the URL's port (the server we started)."""
    port = int(url.split(":")[2].split("/")[0])
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
            inode = fields[9]
            break
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if fd.readlink().name == f"socket:[{inode}]" or str(fd.readlink()) == f"socket:[{inode}]":
                    return int(proc.name)
        except (OSError, PermissionError):
            continue
    raise RuntimeError(f"no process listens on port {port}")
