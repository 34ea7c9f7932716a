"""`deskhand watch` and a tenant's mailbox over IMAP and SMTP, with real processes on 127.0.0.1: pymap (IMAP),
aiosmtpd (SMTP in and out), the four MCP servers, `deskhand watch`, `work` and `approvals approve`."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

from coordinator import Home
from coordinator.cli import running_servers
from coordinator.store import Store
from mcp_servers.mailbox import message_id_of
from tests.coordinator.cli_helpers import ACME, DESKHAND, cli, deskhand, init_on_free_ports
from tests.coordinator.test_approvals import park
from tests.mail_servers import ImapServer, SmtpSink, imap_server, smtp_sink

CUSTOMER = "priya.raman@brightloop.example.com"
HEADER = "<invoice-question-1@brightloop.example.com>"


def configure(home: Home, imap: ImapServer, outbound: SmtpSink, secret: Path) -> None:
    """acme's mailbox on the IMAP account and the outbound SMTP server, as its operator writes it."""
    secret.write_text(imap.password + "\n")
    secret.chmod(0o600)
    with home.config_path.open("a", encoding="utf-8") as config:
        config.write(
            "\n[mailbox.acme]\n"
            'backend = "imap"\n'
            f'user = "{imap.user}"\n'
            f'password_file = "{secret}"\n'
            f'imap_host = "{imap.host}"\n'
            f"imap_port = {imap.port}\n"
            'imap_tls = "none"\n'
            f'smtp_host = "{outbound.host}"\n'
            f"smtp_port = {outbound.port}\n"
            'smtp_tls = "none"\n'
        )


def customer_email() -> EmailMessage:
    message = EmailMessage()
    message["From"] = CUSTOMER
    message["To"] = "support@acme.example.com"
    message["Subject"] = "Where do I download last month's invoice?"
    message["Message-ID"] = HEADER
    message.set_content("Hi,\n\nWhere in the app can I download our invoice for November as a PDF?\n\nThanks,\nPriya\n")
    return message


def two_at_once(*args: str) -> list[subprocess.CompletedProcess[str]]:
    """`deskhand ARGS` twice, as two processes started together."""
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("DESKHAND_HOME", None)
    started = [
        subprocess.Popen([DESKHAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    done = []
    for process in started:
        stdout, stderr = process.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return done


@pytest.mark.slow
def test_mail_over_smtp_is_one_run_for_two_watchers_and_a_restart_a_draft_in_drafts_no_reply_until_approved(
    tmp_path: Path,
) -> None:
    with imap_server() as imap, smtp_sink() as inbound, smtp_sink() as outbound:
        home = init_on_free_ports(tmp_path / "home", ACME)
        configure(home, imap, outbound, tmp_path / "acme-mail-password")
        with smtplib.SMTP(inbound.host, inbound.port) as smtp:  # the customer's mail, over SMTP
            smtp.send_message(customer_email())
        [(recipients, delivered)] = inbound.wait_for(1)
        assert recipients == ["support@acme.example.com"]
        imap.deliver(delivered.as_bytes())  # the delivery agent files it in the account's INBOX
        imap.deliver(delivered.as_bytes())  # and once more: delivered twice, still one message
        watch = ("--home", str(home.path), "watch", "--once")
        Store(home.coordinator_db).dispose()  # the store made first: two processes migrating a new SQLite store race
        with running_servers(home):
            together = two_at_once(*watch)  # two watchers on the same mailbox at the same time
            again = deskhand(*watch)
        with running_servers(home):  # every server restarted: the mailbox's memory of what it listed is gone
            restarted = deskhand(*watch)
            assert [p.returncode for p in (*together, again, restarted)] == [0] * 4, [p.stderr for p in together]
            message_id = message_id_of(HEADER, "", "", "")
            printed = "".join(p.stdout for p in together)
            assert printed.count("submitted: run ") == 1 and f"message {message_id}" in printed
            assert again.stdout == restarted.stdout == ""
            store = Store(home.coordinator_db)
            try:
                [run] = store.runs(tenant="acme")
                assert run.source_key == message_id
                worked = deskhand("--home", str(home.path), "work", "--until-idle")
                assert worked.returncode == 0, worked.stderr
                assert store.run(run.id).status == "completed", store.run(run.id).reason
                [draft] = imap.messages("Drafts")
                assert (draft["To"], draft["In-Reply-To"]) == (CUSTOMER, HEADER)
                assert imap.messages("INBOX") == [] and len(imap.messages("Processed")) == 2  # both copies
                assert deskhand(*watch).stdout == ""  # processed: nothing new
                assert outbound.received == []  # a draft is never sent
                arguments = {"message_id": message_id, "body": draft.get_payload(), "subject": None}
                approval = park(store, "acme", tool="mailbox.send_reply", arguments=arguments)
                assert outbound.received == []
                approved = deskhand(
                    "--home", str(home.path), "approvals", "approve", approval.id, "--hash", approval.args_hash
                )
                assert approved.returncode == 0, approved.stderr
                [(to, reply)] = outbound.wait_for(1)
                assert store.approval(approval.id).status == "executed"
                assert len(store.runs(tenant="acme")) == 2  # the watched run and the parked reply's
            finally:
                store.dispose()
        assert to == [CUSTOMER] and reply["In-Reply-To"] == HEADER
        assert reply.get_payload() == draft.get_payload()


@pytest.mark.slow
def test_watch_stops_on_ctrl_c_with_exit_0(tmp_path: Path) -> None:
    home = init_on_free_ports(tmp_path / "home", ACME)  # no server runs: each look fails and is reported
    process = subprocess.Popen(
        [DESKHAND, "--home", str(home.path), "watch", "--interval", "3600"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        assert process.stderr.readline().startswith("deskhand watch: watching acme every 3600s")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_watch_once_with_the_mailbox_server_down_is_an_error_naming_it(tmp_path: Path) -> None:
    home = init_on_free_ports(tmp_path / "home", ACME)
    result = cli("--home", str(home.path), "watch", "--once")
    assert result.exit_code == 1
    assert "unavailable" in result.stderr and home.servers["mailbox"].url in result.stderr


def test_watch_names_an_unknown_tenant(tmp_path: Path) -> None:
    home = init_on_free_ports(tmp_path / "home", ACME)
    result = cli("--home", str(home.path), "watch", "--once", "--tenant", "globex")
    assert result.exit_code == 1 and "--tenant 'globex'" in result.stderr
