"""Secrets read at start-up, never from a configuration file: from an environment variable, or from a file that only
its owner may read (mode 0600). A refusal is a `ConfigError` naming the setting to fix; the secret itself is never
part of a message."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from schemas import ConfigError


def read_secret(*, env: str | None, file: Path | None, field: str) -> str:
    """The secret named by `env` (a variable's name) or `file` (a path); `field` names the setting that holds them
    (`mailbox.acme`: the error names `mailbox.acme.password_env` or `mailbox.acme.password_file`)."""
    if env is not None:
        value = os.environ.get(env, "").strip()
        if not value:
            raise ConfigError(
                f"{field}.password_env: the environment variable {env} is not set (or empty)",
                field=f"{field}.password_env",
            )
        return value
    if file is None:
        raise ConfigError(f"{field}: name a password_env or a password_file", field=field)
    return _read_file(file.expanduser(), f"{field}.password_file")


def _read_file(path: Path, field: str) -> str:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{field}: {path} cannot be read: {exc.strerror}", field=field) from exc
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{field}: {path} is not a file", field=field)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{field}: {path} may be read by others (mode {stat.S_IMODE(mode):04o}): `chmod 600 {path}`",
            field=field,
        )
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{field}: {path} cannot be read: {exc}", field=field) from exc
    value = lines[0].strip() if lines else ""
    if not value:
        raise ConfigError(f"{field}: {path} is empty", field=field)
    return value
