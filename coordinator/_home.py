"""The deskhand home: keys, per-server databases and `deskhand.toml` (server names → URLs).

~/.deskhand/                 (or --home DIR, or $DESKHAND_HOME)
  deskhand.toml              issuer, and for each server its URL and database URL
  keys/signing-key.pem       the development issuer's private key (0600)
  keys/jwks.json             its public keys: what the servers trust
  data/<server>.db           each server's SQLite database
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeGuard

from pydantic import TypeAdapter, ValidationError

from schemas import SERVER_NAMES, ConfigError, MailboxConfig, ServerName

DEFAULT_PORTS: dict[ServerName, int] = {"crm": 8701, "helpdesk": 8702, "knowledge": 8703, "mailbox": 8704}
DEFAULT_ISSUER = "http://127.0.0.1:8700"
CONFIG_FILE = "deskhand.toml"


def default_home() -> Path:
    return Path(os.environ.get("DESKHAND_HOME") or Path.home() / ".deskhand")


@dataclass(frozen=True)
class ServerConfig:
    name: ServerName
    url: str
    """The canonical URL of the MCP endpoint: tokens for this server carry it as `aud`."""
    db: str


@dataclass(frozen=True)
class Home:
    path: Path
    issuer: str = DEFAULT_ISSUER
    servers: dict[ServerName, ServerConfig] = field(default_factory=dict)
    tenants: tuple[str, ...] = ()
    """The tenants `deskhand init` loaded into the servers."""
    mailboxes: dict[str, MailboxConfig] = field(default_factory=dict)
    """Each tenant's mailbox that is not the mailbox server's table (`[mailbox.TENANT]`)."""

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    @property
    def jwks_path(self) -> Path:
        return self.keys_dir / "jwks.json"

    @property
    def coordinator_db(self) -> str:
        """The coordinator's store: runs, handoffs, approvals, usage, audit."""
        return f"sqlite:///{self.path / 'data' / 'coordinator.db'}"

    @property
    def approvals_audience(self) -> str:
        """The audience of a remote approver's token (`deskhand token mint --role approver --audience ...`); the home's
        local operator needs none."""
        return f"{self.issuer.rstrip('/')}/approvals"

    @property
    def api_audience(self) -> str:
        """The audience of HTTP API tokens (`deskhand api token`)."""
        return f"{self.issuer.rstrip('/')}/api"

    @property
    def workflows_dir(self) -> Path:
        """The home's own workflows (`*.yaml`), beside the built-in ones."""
        return self.path / "workflows"

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @classmethod
    def defaults(cls, path: Path) -> Home:
        path = path.expanduser().resolve()
        servers = {
            name: ServerConfig(name, f"http://127.0.0.1:{port}/mcp", f"sqlite:///{path / 'data' / name}.db")
            for name, port in DEFAULT_PORTS.items()
        }
        return cls(path, DEFAULT_ISSUER, servers)

    @classmethod
    def load(cls, path: Path) -> Home:
        """The home at `path`; a clear error if `deskhand init` has not made it yet."""
        path = path.expanduser().resolve()
        config = path / CONFIG_FILE
        if not config.exists():
            raise ConfigError(f"{config} does not exist: run `deskhand init --home {path}` first")
        try:
            data = tomllib.loads(config.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config}: not valid TOML: {exc}") from exc
        home = cls.defaults(path)
        servers = dict(home.servers)
        for name, entry in (data.get("servers") or {}).items():
            if name not in SERVER_NAMES:
                raise ConfigError(
                    f"{config}: servers.{name}: unknown server; expected one of {list(SERVER_NAMES)}",
                    field=f"servers.{name}",
                )
            if not isinstance(entry, dict):
                raise ConfigError(
                    f"{config}: servers.{name}: expected a table with url and db", field=f"servers.{name}"
                )
            servers[name] = ServerConfig(
                name, str(entry.get("url", servers[name].url)), str(entry.get("db", servers[name].db))
            )
        tenants = data.get("tenants") or []
        if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
            raise ConfigError(f"{config}: tenants: expected a list of tenant ids", field="tenants")
        mailboxes = _mailboxes(config, data.get("mailbox") or {})
        return cls(path, str(data.get("issuer", DEFAULT_ISSUER)), servers, tuple(tenants), mailboxes)

    def save(self) -> None:
        lines = [
            "# deskhand home: written by `deskhand init`; edit freely.",
            f'issuer = "{self.issuer}"',
            "tenants = [" + ", ".join(f'"{t}"' for t in self.tenants) + "]",
            "",
        ]
        for server in self.servers.values():
            lines += [f"[servers.{server.name}]", f'url = "{server.url}"', f'db = "{server.db}"', ""]
        for tenant, mailbox in self.mailboxes.items():
            lines.append(f"[mailbox.{json.dumps(tenant)}]")
            for key, value in mailbox.model_dump(mode="json", exclude_unset=True).items():
                lines.append(f"{key} = {json.dumps(value)}")  # a JSON string or number is a TOML one
            lines.append("")
        self.path.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text("\n".join(lines), encoding="utf-8")

    def with_tenants(self, tenants: list[str]) -> Home:
        return replace(self, tenants=tuple(sorted({*self.tenants, *tenants})))

    def with_servers(self, servers: dict[ServerName, ServerConfig]) -> Home:
        return replace(self, servers=servers)

    def server(self, name: str) -> ServerConfig:
        if _is_server_name(name) and name in self.servers:
            return self.servers[name]
        raise ConfigError(f"unknown server {name!r}; expected one of {list(SERVER_NAMES)}", field="name")


_MAILBOX = TypeAdapter[MailboxConfig](MailboxConfig)


def _mailboxes(config: Path, tables: Any) -> dict[str, MailboxConfig]:
    """`[mailbox.TENANT]` tables, each checked; an error names the field (`mailbox.acme.imap_port`). A password
    written there is refused: it is read from the environment or a 0600 file (`password_env`, `password_file`)."""
    if not isinstance(tables, dict):
        raise ConfigError(f"{config}: mailbox: expected a table per tenant ([mailbox.TENANT])", field="mailbox")
    mailboxes: dict[str, MailboxConfig] = {}
    for tenant, entry in tables.items():
        where = f"mailbox.{tenant}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{config}: {where}: expected a table with backend = ...", field=where)
        if "password" in entry:
            raise ConfigError(
                f"{config}: {where}.password: no password is written in {CONFIG_FILE}; name an environment variable "
                "(password_env) or a file of mode 0600 (password_file)",
                field=f"{where}.password",
            )
        try:
            mailboxes[tenant] = _MAILBOX.validate_python(entry)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            loc = [str(p) for p in first["loc"] if str(p) not in ("table", "imap")]  # the union's branch
            if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc = ["backend"]
            name = ".".join([where, *loc])
            raise ConfigError(f"{config}: {name}: {first['msg']}", field=name) from exc
    return mailboxes


def _is_server_name(name: str) -> TypeGuard[ServerName]:
    return name in SERVER_NAMES
