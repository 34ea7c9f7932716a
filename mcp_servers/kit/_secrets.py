"""Secrets read at start-up, never from a configuration file: from an environment variable, or from a file that only
its owner may read (mode 0600). A refusal is a `ConfigError` naming the setting to fix; the secret itself is never
part of a message."""

from __future__ import annotations

import os
from pathlib import Path

from schemas import ConfigError, check_private


def read_secret(*, env: str | None, file: Path | None, field: str) -> str:
    """The secret named by `env` (a variable's name) or `file` (a path); `field` names the setting that holds them
    (`mailbox.TENANT`: the error names `mailbox.TENANT.password_env` or `mailbox.TENANT.password_file`)."""
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
    check_private(path, field)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{field}: {path} cannot be read: {exc}", field=field) from exc
    value = lines[0].strip() if lines else ""
    if not value:
        raise ConfigError(f"{field}: {path} is empty", field=field)
    return value
