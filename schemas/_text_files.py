"""Reading a file a person wrote (a tenant file, a suite, a workflow, a config): UTF-8, with or without the byte
order mark some editors write, and a `ConfigError` that says where when it is not."""

from __future__ import annotations

from pathlib import Path

from schemas._errors import ConfigError


def read_text_file(path: Path, what: str) -> str:
    """The text of `path` (`what` it is, for the error: "the tenant file"). A file that cannot be read, or that is
    not UTF-8 (a Windows-1252 "£", say), is a `ConfigError` naming the file and, for bad bytes, their line and
    column. A leading byte order mark is dropped."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
        raise ConfigError(
            f"{path}: {what} is not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column {column} "
            "(save it as UTF-8)"
        ) from None
