"""The deskhand home: keys, per-server databases and `deskhand.toml` (server names → URLs).

~/.deskhand/                 (or --home DIR, or $DESKHAND_HOME)
  deskhand.toml              issuer, and for each server its URL and database URL
  keys/signing-key.pem       the development issuer's private key (0600)
  keys/jwks.json             its public keys: what the servers trust
  data/<server>.db           each server's SQLite database
  tenants/<tenant>/keys/     a pinned tenant's own signing key and JWKS (`deskhand init --pin TENANT`)
  tenants/<tenant>/data/     its pinned servers' databases

A pinned tenant (the isolation tier) has servers of its own, `[pinned.<tenant>.<server>]` in `deskhand.toml`:
the coordinator sends that tenant's calls to them with tokens signed by the tenant's key, and they trust that key
only; every other tenant, and the pinned tenant's calls to a server it does not pin, use the shared servers.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from schemas import (
    BUILTIN_SERVERS,
    SERVER_NAME_PATTERN,
    TENANT_ID_PATTERN,
    ConfigError,
    MailboxConfig,
    ServerName,
    read_text_file,
)

DEFAULT_PORTS: dict[ServerName, int] = {"crm": 8701, "helpdesk": 8702, "knowledge": 8703, "mailbox": 8704}
"""The built-in servers' ports; another installed server takes the next free port from 8705, in name order."""
SERVERS_GROUP = "deskhand.servers"
_SERVER_NAME = re.compile(SERVER_NAME_PATTERN)
_TENANT_ID = re.compile(TENANT_ID_PATTERN)


def installed_servers() -> list[ServerName]:
    """The names of the installed server packages (the entry-point group `deskhand.servers`), read without importing
    them: the coordinator reaches servers over MCP, and only `deskhand server serve` and `init` load their code."""
    names = {entry.name for entry in entry_points(group=SERVERS_GROUP)}
    return [*(n for n in BUILTIN_SERVERS if n in names), *sorted(names - set(BUILTIN_SERVERS))]


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
    pinned: dict[str, dict[ServerName, ServerConfig]] = field(default_factory=dict)
    """Each pinned tenant's own servers (tenant → server name → its URL and database)."""
    mailboxes: dict[str, MailboxConfig] = field(default_factory=dict)
    """Each tenant's mailbox that is not the mailbox server's table (`[mailbox.TENANT]`)."""

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    @property
    def jwks_path(self) -> Path:
        return self.keys_dir / "jwks.json"

    def tenant_dir(self, tenant: str) -> Path:
        """A pinned tenant's own keys (`keys/`) and databases (`data/`)."""
        return self.path / "tenants" / tenant

    def tenant_keys_dir(self, tenant: str) -> Path:
        return self.tenant_dir(tenant) / "keys"

    def route(self, tenant: str, name: ServerName) -> ServerConfig:
        """The server that serves `tenant`'s calls to `name`: its pinned one if it has one, else the shared one."""
        return self.pinned.get(tenant, {}).get(name) or self.server(name)

    def pinned_server(self, tenant: str, name: str) -> ServerConfig:
        pins = self.pinned.get(tenant)
        if pins is None:
            raise ConfigError(
                f"--tenant {tenant!r}: no server is pinned to it in {self.config_path} (pinned tenants: "
                f"{list(self.pinned)}); pin it with `deskhand init --pin {tenant}`",
                field="tenant",
            )
        if name not in pins:
            raise ConfigError(
                f"{name!r} is not pinned to {tenant!r} in {self.config_path}; its pinned servers: {list(pins)}",
                field="name",
            )
        return pins[name]

    def with_pin(self, tenant: str) -> Home:
        """This home with every installed server the tenant has not pinned yet pinned to it: the next free ports,
        and databases of its own under `tenants/<tenant>/data/`."""
        if not _TENANT_ID.match(tenant):
            raise ConfigError(
                f"--pin {tenant!r}: expected a tenant id (lower-case letters, digits, dashes)", field="pin"
            )
        pins = dict(self.pinned.get(tenant, {}))
        taken = {_port_of(c.url) for c in self.servers.values()} | {
            _port_of(c.url) for tier in self.pinned.values() for c in tier.values()
        }
        for name in installed_servers():
            if name not in pins:
                port = max(8704, *taken) + 1
                taken.add(port)
                db = f"sqlite:///{self.tenant_dir(tenant) / 'data' / name}.db"
                pins[name] = ServerConfig(name, f"http://127.0.0.1:{port}/mcp", db)
        return replace(self, pinned={**self.pinned, tenant: pins})

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
        """A home at `path` with every installed server on 127.0.0.1 (the built-in four on 8701-8704)."""
        path = path.expanduser().resolve()
        return cls(path, DEFAULT_ISSUER, _with_defaults(path, {}))

    @classmethod
    def load(cls, path: Path) -> Home:
        """The home at `path`; a clear error if `deskhand init` has not made it yet."""
        path = path.expanduser().resolve()
        config = path / CONFIG_FILE
        if not config.exists():
            raise ConfigError(f"{config} does not exist: run `deskhand init --home {path}` first")
        try:
            data = tomllib.loads(read_text_file(config, "the home's configuration"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config}: not valid TOML: {exc}") from exc
        tenants = data.get("tenants") or []
        if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
            raise ConfigError(f"{config}: tenants: expected a list of tenant ids", field="tenants")
        pinned_data = data.get("pinned") or {}
        if not isinstance(pinned_data, dict):
            raise ConfigError(f"{config}: pinned: expected [pinned.TENANT.SERVER] tables", field="pinned")
        pinned: dict[str, dict[ServerName, ServerConfig]] = {}
        for tenant, tier in pinned_data.items():
            if not _TENANT_ID.match(tenant):
                raise ConfigError(
                    f"{config}: pinned.{tenant}: expected a tenant id (lower-case letters, digits, dashes)",
                    field=f"pinned.{tenant}",
                )
            pinned[tenant] = _servers(config, f"pinned.{tenant}", tier, path / "tenants" / tenant)
        elsewhere = {_port_of(c.url) for tier in pinned.values() for c in tier.values()}
        servers = _with_defaults(path, _servers(config, "servers", data.get("servers"), path), elsewhere)
        mailboxes = _mailboxes(config, data.get("mailbox") or {})
        return cls(path, str(data.get("issuer", DEFAULT_ISSUER)), servers, tuple(tenants), pinned, mailboxes)

    def save(self) -> None:
        lines = [
            "# deskhand home: written by `deskhand init`; edit freely.",
            f'issuer = "{self.issuer}"',
            "tenants = [" + ", ".join(f'"{t}"' for t in self.tenants) + "]",
            "",
        ]
        for server in self.servers.values():
            lines += [f"[servers.{server.name}]", f'url = "{server.url}"', f'db = "{server.db}"', ""]
        for tenant, tier in self.pinned.items():
            for server in tier.values():
                lines += [f"[pinned.{tenant}.{server.name}]", f'url = "{server.url}"', f'db = "{server.db}"', ""]
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
        if name in self.servers:
            return self.servers[name]
        raise ConfigError(
            f"unknown server {name!r}: no package installed serves it (entry points {SERVERS_GROUP!r}) and "
            f"{self.config_path} gives it no URL; expected one of {list(self.servers)}",
            field="name",
        )


def _servers(config: Path, where: str, tables: object, path: Path) -> dict[ServerName, ServerConfig]:
    """The server tables under `where` (`servers`, or a pinned tenant's), each checked; a database URL that carries
    a password is refused: a secret belongs in the environment (`PGPASSWORD`) or `~/.pgpass`, not in this file."""
    if not isinstance(tables, dict):
        raise ConfigError(f"{config}: {where}: expected [{where}.NAME] tables with url and db", field=where)
    servers: dict[ServerName, ServerConfig] = {}
    for name, entry in tables.items():
        if not _SERVER_NAME.match(name):
            raise ConfigError(
                f"{config}: {where}.{name}: a server's name is lower-case letters, digits and underscores",
                field=f"{where}.{name}",
            )
        if not isinstance(entry, dict) or not isinstance(entry.get("url", ""), str):
            raise ConfigError(f"{config}: {where}.{name}: expected a table with url and db", field=f"{where}.{name}")
        default = _default_config(path, name, 0 if where != "servers" else DEFAULT_PORTS.get(name, 0))
        url = str(entry.get("url") or default.url)
        if not url.startswith(("http://", "https://")) or url.endswith(":0/mcp"):
            raise ConfigError(
                f"{config}: {where}.{name}.url: expected the server's MCP endpoint, http(s)://HOST:PORT/mcp",
                field=f"{where}.{name}.url",
            )
        db = str(entry.get("db", default.db))
        if _has_password(db):
            raise ConfigError(
                f"{config}: {where}.{name}.db: the database URL carries a password; keep secrets out of "
                "deskhand.toml (set PGPASSWORD in the server's environment, or use ~/.pgpass with mode 0600)",
                field=f"{where}.{name}.db",
            )
        servers[name] = ServerConfig(name, url, db)
    return servers


def _has_password(db_url: str) -> bool:
    """Whether a database URL spells a password (`scheme://user:password@host/...`)."""
    rest = db_url.split("://", 1)[-1]
    userinfo, at, _ = rest.partition("@")
    return bool(at) and ":" in userinfo and "/" not in userinfo


def _default_config(path: Path, name: ServerName, port: int) -> ServerConfig:
    return ServerConfig(name, f"http://127.0.0.1:{port}/mcp", f"sqlite:///{path / 'data' / name}.db")


def _with_defaults(
    path: Path, configured: dict[ServerName, ServerConfig], taken_elsewhere: set[int] | None = None
) -> dict[ServerName, ServerConfig]:
    """`configured` and every installed server it leaves out: the built-in four on their ports, the others on the
    next ports from 8705 that no server uses, shared or pinned (`taken_elsewhere`; `deskhand init` writes them down,
    so they stay)."""
    servers = dict(configured)
    taken = {_port_of(config.url) for config in servers.values()} | (taken_elsewhere or set())
    for name in installed_servers():
        if name in servers:
            continue
        port = DEFAULT_PORTS.get(name)
        if port is None:
            port = max(8704, *taken) + 1 if taken else 8705
        taken.add(port)
        servers[name] = _default_config(path, name, port)
    return servers


def _port_of(url: str) -> int:
    hostport = url.split("://", 1)[-1].split("/", 1)[0]
    port = hostport.rpartition(":")[2]
    return int(port) if port.isdigit() else 0


_MAILBOX = TypeAdapter[MailboxConfig](MailboxConfig)


def _mailboxes(config: Path, tables: Any) -> dict[str, MailboxConfig]:
    """`[mailbox.TENANT]` tables, each checked; an error names the field (`mailbox.TENANT.imap_port`). A password
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
