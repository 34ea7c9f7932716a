"""`deskhand prune` over records the real runtime and servers wrote: a dry run deletes nothing; a prune removes
only what is past the window and finished, keeps runs in flight and the idempotency records a retry could
still need, and is audited in the coordinator's trail and each server's."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from coordinator import Home
from coordinator._home import ServerConfig
from coordinator._worker import work
from coordinator.store import PRUNED, AuditEntry, RunRow, Store
from mcp_servers.kit import PRUNE_TOOL, AuditRecord, IdempotencyRecord, table_of
from schemas import InboundEmail
from tests.coordinator.cli_helpers import cli
from tests.specialists.harness import World

AUDIT_LOG, IDEMPOTENCY = table_of(AuditRecord), table_of(IdempotencyRecord)
LONG_AGO = datetime.now(UTC) - timedelta(days=50)


def home_of(world: World, path: Path) -> Home:
    """A home whose servers' databases are the world's."""
    home = Home.defaults(path)
    home = home.with_servers({n: ServerConfig(n, s.url, world.servers[n].db.url) for n, s in home.servers.items()})
    home.save()
    return home


def prune(home: Home, store_url: str, *args: str) -> dict[str, Any]:
    result = cli("--home", str(home.path), "-o", "json", "prune", "--db", store_url, *args)
    assert result.exit_code == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def server_rows(world: World) -> dict[str, dict[str, Any]]:
    """Each server's audit rows by run (None: no run), its prunes, and its idempotency records' count."""
    rows: dict[str, dict[str, Any]] = {}
    for name, server in world.servers.items():
        with server.db.engine.begin() as connection:
            audit = connection.execute(select(AUDIT_LOG.c.run_id, AUDIT_LOG.c.tool)).all()
            keys = connection.execute(select(func.count()).select_from(IDEMPOTENCY)).scalar_one()
        by_run: dict[str | None, int] = {}
        for run_id, tool in audit:
            if tool != PRUNE_TOOL:
                by_run[run_id] = by_run.get(run_id, 0) + 1
        rows[name] = {"audit": by_run, "prunes": sum(t == PRUNE_TOOL for _, t in audit), "keys": keys}
    return rows


def records(store_url: str, *run_ids: str) -> dict[str, tuple[int, int]]:
    """Each run's exchanges and audit entries, counted."""
    store = Store(store_url)
    try:
        return {r: (len(store.exchanges(r)), len(store.audit_trail(r))) for r in run_ids}
    finally:
        store.dispose()


def age(world: World, store_url: str, run_id: str, *, run_too: bool, keys_too: bool) -> None:
    """Move what `run_id` left (its audit entries here and on the servers; `run_too`: the run itself, `keys_too`:
    every idempotency record so far) fifty days back."""
    store = Store(store_url)
    try:
        with store.engine.begin() as connection:
            connection.execute(update(table_of(AuditEntry)).where(AuditEntry.run_id == run_id).values(at=LONG_AGO))  # type: ignore[arg-type]
            if run_too:
                connection.execute(
                    update(table_of(RunRow))
                    .where(RunRow.id == run_id)  # type: ignore[arg-type]
                    .values(created_at=LONG_AGO, updated_at=LONG_AGO, finished_at=LONG_AGO)
                )
    finally:
        store.dispose()
    for server in world.servers.values():
        with server.db.engine.begin() as connection:
            connection.execute(update(AUDIT_LOG).where(AUDIT_LOG.c.run_id == run_id).values(at=LONG_AGO))
            if keys_too:
                connection.execute(update(IDEMPOTENCY).values(created_at=LONG_AGO))


def started_long_ago(world: World, store_url: str, run_id: str) -> None:
    """The run in flight started forty days ago, and the writes it made so far are from thirty-five days ago."""
    store = Store(store_url)
    try:
        with store.engine.begin() as connection:
            connection.execute(
                update(table_of(RunRow)).where(RunRow.id == run_id).values(created_at=LONG_AGO + timedelta(days=10))  # type: ignore[arg-type]
            )
    finally:
        store.dispose()
    for server in world.servers.values():
        with server.db.engine.begin() as connection:
            connection.execute(
                update(IDEMPOTENCY)
                .where(IDEMPOTENCY.c.created_at > LONG_AGO + timedelta(days=1))
                .values(created_at=LONG_AGO + timedelta(days=15))
            )


async def submit(world: World, store_url: str, subject: str, body: str) -> str:
    async with world.runtime(store_url) as runtime:
        run_id, _ = runtime.submit(
            "acme", InboundEmail(sender=world.tenants["acme"].customers[0].email, subject=subject, body=body)
        )
        await work(runtime, until_idle=True, poll_seconds=0.01)
    return run_id


@pytest.mark.slow  # two runs through the four servers, three prunes
@pytest.mark.anyio
async def test_prune_removes_only_what_is_past_the_window_and_finished(
    world: World, store_url: str, tmp_path: Path
) -> None:
    home = home_of(world, tmp_path / "home")
    old = await submit(world, store_url, "Invoice copy", "Could you send me last month's invoice again?")
    age(world, store_url, old, run_too=True, keys_too=True)
    before = server_rows(world)
    old_keys = {name: rows["keys"] for name, rows in before.items()}
    assert old_keys["helpdesk"] > 0  # the old run's writes
    waiting = await submit(world, store_url, "Charged twice", "We were charged twice. Please refund the $120.00.")
    age(world, store_url, waiting, run_too=False, keys_too=False)  # in flight, with old records: all kept
    started_long_ago(world, store_url, waiting)  # and its writes older than the window: a retry may need them
    kept = records(store_url, old, waiting)
    servers = server_rows(world)
    assert kept[old][0] > 0 and kept[old][1] > 0 and kept[waiting][0] > 0

    dry = prune(home, store_url, "--older-than", "30d", "--dry-run")
    expected = {"coordinator": {"coord_exchange": kept[old][0], "coord_audit": kept[old][1]}} | {
        name: {"audit_log": rows["audit"].get(old, 0), "idempotency_record": old_keys[name]}
        for name, rows in servers.items()
    }
    assert dry["dry_run"] is True and dry["runs_in_flight"] == 1 and dry["counts"] == expected
    assert records(store_url, old, waiting) == kept and server_rows(world) == servers  # nothing deleted

    done = prune(home, store_url, "--older-than", "30d")
    assert done["counts"] == expected
    assert records(store_url, old, waiting) == {old: (0, 0), waiting: kept[waiting]}
    after = server_rows(world)
    for name, rows in after.items():
        assert old not in rows["audit"] and rows["audit"].get(waiting) == servers[name]["audit"].get(waiting)
        assert rows["keys"] == servers[name]["keys"] - old_keys[name] and rows["prunes"] == 1
    assert after["helpdesk"]["keys"] > 0  # the run in flight's
    operator = f"local:{getpass.getuser()}"
    store = Store(store_url)
    try:
        with store.engine.begin() as connection:
            entries = connection.execute(
                select(table_of(AuditEntry)).where(table_of(AuditEntry).c.decision == PRUNED)
            ).all()
        [entry] = entries
        assert entry.actor == operator and entry.tenant == "*"
        assert json.loads(entry.outcome)["coordinator"] == expected["coordinator"]
        assert json.loads(entry.outcome)["helpdesk"] == expected["helpdesk"]
        store.set_run(waiting, status="escalated", reason="test: finished")  # no run is in flight now
    finally:
        store.dispose()
    fresh = await submit(world, store_url, "Invoice again", "Please send the invoice of this month too.")
    fresh_keys = {name: rows["keys"] - after[name]["keys"] for name, rows in server_rows(world).items()}
    assert fresh_keys["helpdesk"] > 0
    fresh_exchanges = records(store_url, fresh)[fresh][0]

    now = prune(home, store_url, "--older-than", "0s")
    assert now["runs_in_flight"] == 0
    assert now["counts"]["coordinator"]["coord_exchange"] == kept[waiting][0] + fresh_exchanges
    # what the finished run wrote goes; what the fresh run wrote is inside the retry window, whatever 0s says
    assert {name: now["counts"][name]["idempotency_record"] for name in world.servers} == {
        name: rows["keys"] for name, rows in after.items()
    }
    assert records(store_url, waiting, fresh) == {waiting: (0, 0), fresh: (0, 0)}
    last = server_rows(world)
    assert {name: rows["keys"] for name, rows in last.items()} == fresh_keys
    assert all(rows["prunes"] == 2 and rows["audit"] == {} for rows in last.values())
    store = Store(store_url)
    try:
        with store.engine.begin() as connection:
            prunes = connection.execute(
                select(func.count()).select_from(table_of(AuditEntry)).where(table_of(AuditEntry).c.decision == PRUNED)
            ).scalar_one()
    finally:
        store.dispose()
    assert prunes == 2  # a prune never removes the record of an earlier one


def test_prune_needs_a_duration() -> None:
    for value in ("soon", "30", "-1d", "2026-01-01"):
        result = cli("--home", "/nonexistent", "prune", "--older-than", value)
        assert result.exit_code == 2 and "--older-than" in result.stderr, result.stderr
    missing = cli("--home", "/nonexistent", "prune")
    assert missing.exit_code == 2 and "--older-than" in missing.stderr
