"""A tenant's mailbox in `deskhand.toml` (`[mailbox.TENANT]`): read and kept by the home, and each mistake told
when the mailbox server starts, naming the field to fix; the password is never in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator import Home
from coordinator.cli import free_port
from schemas import ConfigError, ImapMailbox
from tests.coordinator.cli_helpers import ACME, cli, init_on_free_ports
from tests.test_docs import blocks

PASSWORD_ENV = "DESKHAND_TEST_MAIL_PASSWORD"


def with_mailbox(home: Home, **fields: object) -> None:
    entry = {
        "backend": "imap",
        "user": "support@acme.example.com",
        "password_env": PASSWORD_ENV,
        "imap_host": "127.0.0.1",
        "imap_port": free_port(),  # nothing listens there
        "imap_tls": "none",
        "smtp_host": "127.0.0.1",
        "smtp_port": free_port(),
        "smtp_tls": "none",
        **fields,
    }
    lines = ["", "[mailbox.acme]"]
    lines += [f"{key} = {value!r}".replace("'", '"') for key, value in entry.items() if value is not None]
    with home.config_path.open("a", encoding="utf-8") as config:
        config.write("\n".join(lines) + "\n")


def serve_mailbox(home: Home, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`deskhand server serve mailbox`, which stops before serving when the configuration is wrong."""
    result = cli("--home", str(home.path), "server", "serve", "mailbox", "--http", f"127.0.0.1:{free_port()}", env=env)
    return result.exit_code, result.stderr


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return init_on_free_ports(tmp_path / "home", ACME)


def test_the_home_reads_a_tenants_mailbox_and_init_keeps_it(home: Home) -> None:
    with_mailbox(home, imap_port=1993, processed_flag="\\Flagged")
    loaded = Home.load(home.path).mailboxes["acme"]
    assert isinstance(loaded, ImapMailbox)
    assert (loaded.imap_port, loaded.processed_in, loaded.sender) == (1993, None, "support@acme.example.com")
    assert cli("--home", str(home.path), "init", "--tenants", ACME).exit_code == 0  # rewrites deskhand.toml
    assert Home.load(home.path).mailboxes == {"acme": loaded}


def test_mail_guide_configuration_loads_as_written(home: Home) -> None:
    [config] = blocks("docs/mail.md", "toml")
    with home.config_path.open("a", encoding="utf-8") as file:
        file.write("\n" + config)
    loaded = Home.load(home.path).mailboxes["acme"]
    assert isinstance(loaded, ImapMailbox)
    assert (loaded.password_file, loaded.processed_in, loaded.imap_tls) == (
        Path("/etc/deskhand/acme-mail"),
        "Processed",
        "tls",
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"password": "hunter2", "password_env": None}, "mailbox.acme.password"),
        ({"imap_port": "imaps"}, "mailbox.acme.imap_port"),
        ({"smtp_tls": "ssl"}, "mailbox.acme.smtp_tls"),
        ({"password_env": None}, "mailbox.acme"),
        ({"backend": "pop3"}, "mailbox.acme.backend"),
    ],
)
def test_a_mistake_in_a_mailbox_table_names_its_field(home: Home, fields: dict[str, object], field: str) -> None:
    with_mailbox(home, **fields)
    with pytest.raises(ConfigError) as refused:
        Home.load(home.path)
    assert refused.value.field == field
    assert "hunter2" not in refused.value.message


def test_the_mailbox_server_refuses_to_start_without_its_password(home: Home) -> None:
    with_mailbox(home)
    code, stderr = serve_mailbox(home, env={PASSWORD_ENV: ""})
    assert code == 1 and f"mailbox.acme.password_env: the environment variable {PASSWORD_ENV} is not set" in stderr


def test_the_mailbox_server_refuses_a_password_file_others_may_read(home: Home, tmp_path: Path) -> None:
    secret = tmp_path / "acme-mail"
    secret.write_text("s3cret\n")
    secret.chmod(0o640)
    with_mailbox(home, password_env=None, password_file=str(secret))
    code, stderr = serve_mailbox(home)
    assert code == 1 and "mailbox.acme.password_file" in stderr and "mode 0640" in stderr
    assert "s3cret" not in stderr


def test_the_mailbox_server_names_an_imap_server_it_cannot_reach(home: Home) -> None:
    with_mailbox(home)
    code, stderr = serve_mailbox(home, env={PASSWORD_ENV: "s3cret"})
    assert code == 1 and "mailbox.acme.imap_host" in stderr and "cannot be reached" in stderr
    assert "s3cret" not in stderr
