"""A home's MCP servers over real HTTP, served from a thread of the test process: for tests whose point is
not the server processes (a worker killed, a server that stops and comes back).

Each server listens on its home URL's port before the thread starts (connections wait in the backlog,
so there is no start-up to wait for), trusts the home's keys as `deskhand serve` does, and writes the
home's databases.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import anyio
import uvicorn

from coordinator import Home
from mcp_servers.kit import Database, JwtVerifier, KeySet, load_servers


@contextmanager
def serving(home: Home, *, only: Collection[str] | None = None) -> Iterator[None]:
    """Serve the servers of `home` (all, or `only` these; already initialised) at their URLs until the block
    ends; then their ports refuse connections, and a later block serves them on the same ports again."""
    keys = KeySet.from_file(home.jwks_path)
    servers: list[tuple[uvicorn.Server, socket.socket]] = []
    databases: list[Database] = []
    packages = load_servers()
    try:
        for name, config in home.servers.items():
            if only is not None and name not in only:
                continue
            database = Database(config.db)
            databases.append(database)
            server = packages[name].build(database, None)
            app = server.http_app(JwtVerifier(keys, issuer=home.issuer, audience=config.url), resource_url=config.url)
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else each reply waits ~40 ms (delayed ACK)
            address = urlsplit(config.url)
            sock.bind((address.hostname or "127.0.0.1", address.port or 80))
            sock.listen(128)
            servers.append((uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")), sock))

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                for server, sock in servers:
                    tg.start_soon(lambda s=server, k=sock: s.serve(sockets=[k]))

        thread = threading.Thread(target=anyio.run, args=(main,), name="http-servers")
        thread.start()
        try:
            yield
        finally:
            for server, _ in servers:
                server.should_exit = True
            thread.join()
    finally:
        for _, sock in servers:
            sock.close()
        for database in databases:
            database.dispose()
