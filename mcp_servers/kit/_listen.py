"""A socket to serve HTTP on, listening before anyone is told its address (uvicorn serves on it)."""

from __future__ import annotations

import socket

from schemas import ConfigError


def listening(host: str, port: int, *, field: str = "http") -> socket.socket:
    """A socket listening on host:port (port 0: a free one). `ConfigError` naming `field` when it cannot."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: without, a reply's body waits ~40 ms for the ACK of its headers
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}", field=field) from exc
    sock.listen(128)
    return sock
