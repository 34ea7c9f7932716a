"""Real mail servers on 127.0.0.1 for the tests: pymap (IMAP, its in-memory `dict` backend) as a process of its
own, and aiosmtpd (SMTP) in a thread of the test, whose handler only stores what it is given."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from imap_tools import BaseMailBox, MailBoxUnencrypted

from coordinator.cli import free_port

PYMAP = str(Path(sys.executable).parent / "pymap")
USER, PASSWORD = "support@acme.example.com", "imap-pass-0600"


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int
    user: str
    password: str

    @contextlib.contextmanager
    def box(self, folder: str | None = "INBOX") -> Iterator[BaseMailBox]:
        """A logged-in client, as the account's owner (or its mail delivery agent) would have."""
        box = MailBoxUnencrypted(self.host, self.port, timeout=30).login(self.user, self.password, folder)
        try:
            yield box
        finally:
            box.logout()

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message into a folder of the account (what a mail delivery agent does after SMTP)."""
        with self.box(None) as box:
            box.append(raw, folder)

    def messages(self, folder: str) -> list[Message]:
        with self.box(folder) as box:
            return [m.obj for m in box.fetch("ALL", mark_seen=False)]


@contextlib.contextmanager
def imap_server(user: str = USER, password: str = PASSWORD) -> Iterator[ImapServer]:
    """pymap on a free port of 127.0.0.1, with one account and an empty INBOX; stopped (SIGTERM) on the way out."""
    port = free_port()
    process = subprocess.Popen(
        [
            PYMAP,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-tls",
            "dict",
            "--demo-user",
            user,
            "--demo-password",
            password,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _until_listening(process, port)
        yield ImapServer("127.0.0.1", port, user, password)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _until_listening(process: subprocess.Popen[bytes], port: int, ceiling: float = 60.0) -> None:
    """Start-up, not a test: pymap says nothing when it listens, so its port is tried until it accepts."""
    started = time.monotonic()
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"pymap exited ({process.returncode}): {process.stderr.read() if process.stderr else ''}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() - started > ceiling:
                raise
            time.sleep(0.02)


@dataclass
class SmtpSink:
    """An SMTP server that keeps every message it is given (envelope recipients and the message)."""

    received: list[tuple[list[str], Message]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    host: str = "127.0.0.1"
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self.arrived:
            self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.original_content)))
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[tuple[list[str], Message]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), self.received
            return list(self.received)


@contextlib.contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    """aiosmtpd on a free port of 127.0.0.1 (its own event loop, in a thread), stopped on the way out."""
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()  # returns once the server answers
    sink.port = controller.port
    try:
        yield sink
    finally:
        controller.stop()
