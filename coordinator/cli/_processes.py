"""Starting the MCP servers as separate processes (`deskhand server serve NAME --http`) and stopping them."""

from __future__ import annotations

import errno
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx2

from coordinator._home import Home, ServerConfig, installed_servers
from schemas import ConfigError, ServerName

_handed_out: set[int] = set()


def free_port() -> int:
    """A port free on 127.0.0.1 now, and one this process has not handed out before: the system may give a port it
    just released again, and a home whose four servers are given ports one after another must not get one twice."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def _check_ports(servers: list[tuple[str, str]]) -> None:
    """Each (name, URL) on a port of its own, and nothing listening there yet: a second server on a port would exit
    while the first answered the readiness wait for both, and its calls would reach the wrong server."""
    seen: dict[tuple[str, int], str] = {}
    for name, url in servers:
        parsed = urlsplit(url)
        host = parsed.hostname or "127.0.0.1"
        try:
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
        except ValueError as exc:  # out of range, or not a number
            raise ConfigError(f"the {name} server's URL {url} has no valid port: {exc}", field=name) from exc
        where = ("127.0.0.1" if host == "localhost" else host, port)
        if where in seen:
            raise ConfigError(
                f"the {seen[where]} and {name} servers have the same address ({url}): give each a port of its own",
                field=name,
            )
        seen[where] = name
        try:
            family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
            with socket.socket(family, kind) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
                sock.bind(address)
        except OSError as exc:
            taken = " (is a server of an earlier run still up, or another program on that port?)"
            raise ConfigError(
                f"the {name} server cannot listen at {url}: {exc.strerror or exc}"
                f"{taken if exc.errno == errno.EADDRINUSE else ''}",
                field=name,
            ) from exc


def pinned_key(tenant: str, name: ServerName) -> str:
    """How `running_servers` names a server pinned to a tenant: `TENANT/crm`."""
    return f"{tenant}/{name}"


@dataclass
class ServerProcess:
    name: str
    """The server's name, or `TENANT/NAME` for one pinned to a tenant."""
    url: str
    process: subprocess.Popen[bytes]
    log: Path


READY_CEILING = 120.0
"""The longest a server may take to start (a loaded machine takes its time); a server that dies fails at once."""


@contextmanager
def running_servers(
    home: Home,
    *,
    only: Collection[str] | None = None,
    ready_timeout: float = READY_CEILING,
    progress: Callable[[str], None] | None = None,
) -> Iterator[dict[str, ServerProcess]]:
    """Start the servers of `home` installed here (all, or `only` these: a shared server by its name, one pinned to
    a tenant as `TENANT/NAME`) on their URLs' ports, wait until each answers, and stop them all (SIGINT: they
    flush their audit) on the way out.

    A server is waited for as long as its process is alive and starting, up to `ready_timeout`;
    `progress` hears which servers are still starting, every few seconds. A server that exits, or
    does not answer in time, is a `ConfigError` whose `field` names it, with its log's last lines; so is one whose
    port another server of the home shares, or something already listens on (nothing is started then)."""
    started: dict[str, ServerProcess] = {}
    installed = installed_servers()
    every: list[tuple[str, ServerName, str | None, ServerConfig]] = [(n, n, None, c) for n, c in home.servers.items()]
    every += [(pinned_key(t, n), n, t, c) for t, tier in home.pinned.items() for n, c in tier.items()]
    chosen = [(key, n, t, c) for key, n, t, c in every if (only is None or key in only) and n in installed]
    _check_ports([(key, config.url) for key, _, _, config in chosen])
    try:
        for key, name, tenant, config in chosen:
            hostport = config.url.split("://", 1)[1].split("/", 1)[0]
            log = home.path / "logs" / f"{key.replace('/', '-')}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            pin: list[str] = [] if tenant is None else ["--tenant", tenant]
            with log.open("wb") as handle:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "coordinator.cli",
                        "--home",
                        str(home.path),
                        "server",
                        "serve",
                        name,
                        "--http",
                        hostport,
                        *pin,
                    ],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            started[key] = ServerProcess(key, config.url, process, log)
        wait_ready(list(started.values()), ready_timeout, progress or (lambda _: None))
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


def last_lines(log: Path, count: int = 8) -> str:
    """The last lines of a server's log (empty if it wrote none)."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-count:])
    except OSError:
        return ""


def wait_ready(servers: list[ServerProcess], ceiling: float, progress: Callable[[str], None]) -> None:
    """Poll each server's protected resource metadata until all answer (start-up, not a test)."""
    started = time.monotonic()
    waiting = list(servers)
    said = -PROGRESS_EVERY
    with httpx2.Client(timeout=1.0) as http:
        while waiting:
            for server in list(waiting):
                code = server.process.poll()
                if code is not None:
                    raise ConfigError(
                        f"the {server.name} server exited (code {code}) while starting; "
                        f"the last lines of {server.log}:\n{last_lines(server.log)}",
                        field=server.name,
                    )
                try:
                    if http.get(_metadata_url(server.url)).status_code == 200:
                        waiting.remove(server)
                except httpx2.TransportError:
                    pass
            elapsed = time.monotonic() - started
            if waiting and elapsed > ceiling:
                first = waiting[0]
                raise ConfigError(
                    f"the {first.name} server did not answer at {first.url} within {ceiling:g}s; "
                    f"the last lines of {first.log}:\n{last_lines(first.log)}",
                    field=first.name,
                )
            if waiting and elapsed - said >= PROGRESS_EVERY:
                said = elapsed
                progress(f"waiting for {', '.join(s.name for s in waiting)} to start ({elapsed:.0f}s)")
            if waiting:
                time.sleep(0.05)


PROGRESS_EVERY = 5.0


def _metadata_url(url: str) -> str:
    base, _, path = url.partition("://")
    host, _, path = path.partition("/")
    return f"{base}://{host}/.well-known/oauth-protected-resource/{path}"
