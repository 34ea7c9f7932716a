"""Secret files: only their owner may read them (mode 0600), whoever reads them (signing keys, passwords,
upstream credentials)."""

from __future__ import annotations

import stat
from pathlib import Path

from schemas._errors import ConfigError


def check_private(path: Path, field: str, *, hint: str = "") -> None:
    """Refuse a secret file that is missing, not a file, or that its group or others may read or write (mode &
    0o077): a `ConfigError` naming `field` and the `chmod 600` that fixes it, then `hint`."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{field}: {path} cannot be read: {exc.strerror}", field=field) from exc
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{field}: {path} is not a file", field=field)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{field}: {path} may be read by others (mode {stat.S_IMODE(mode):04o}): `chmod 600 {path}`{hint}",
            field=field,
        )
