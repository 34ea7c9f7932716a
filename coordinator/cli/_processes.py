"""Starting the MCP servers as separate processes (`deskhand serve NAME --http`) and stopping them."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

from coordinator._home import Home
from schemas import ConfigError, ServerName


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    name: ServerName
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def running_servers(
    home: Home, *, only: Collection[ServerName] | None = None, ready_timeout: float = 30.0
) -> Iterator[dict[ServerName, ServerProcess]]:
    """Start the servers of `home` (all, or `only` these) on their URLs' ports, wait until each
    answers, and stop them all (SIGINT: they flush their audit) on the way out."""
    started: dict[ServerName, ServerProcess] = {}
    try:
        for name, config in home.servers.items():
            if only is not None and name not in only:
                continue
            hostport = config.url.split("://", 1)[1].split("/", 1)[0]
            log = home.path / "logs" / f"{name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("wb") as handle:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "coordinator.cli",
                        "serve",
                        name,
                        "--http",
                        hostport,
                        "--home",
                        str(home.path),
                    ],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            started[name] = ServerProcess(name, config.url, process, log)
        deadline = time.monotonic() + ready_timeout
        for server in started.values():
            _wait_ready(server, deadline)
        yield started
    finally:
        for server in started.values():
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGINT)
        for server in started.values():
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


def _wait_ready(server: ServerProcess, deadline: float) -> None:
    """Poll the server's protected resource metadata until it answers (start-up, not a test)."""
    base, _, path = server.url.partition("://")
    host, _, path = path.partition("/")
    metadata = f"{base}://{host}/.well-known/oauth-protected-resource/{path}"
    with httpx2.Client(timeout=1.0) as http:
        while True:
            if server.process.poll() is not None:
                raise ConfigError(f"the {server.name} server exited at start-up:\n{server.log.read_text()[-2000:]}")
            try:
                if http.get(metadata).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ConfigError(f"the {server.name} server did not answer at {server.url} in time; see {server.log}")
            time.sleep(0.05)
