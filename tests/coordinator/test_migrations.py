"""Many processes that open one brand-new store at once agree on its schema (no lost or doubled version), and none
fails on the file's lock: not in switching it to WAL, not in migrating it."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import text

from coordinator.store._migrations import LATEST, migrate
from mcp_servers.kit import Database

PROCESSES = 4


def _open(url: str, barrier: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue[str]) -> None:
    database = Database(url)
    barrier.wait()  # every process has its engine: they all migrate at once
    try:
        results.put(f"ok {migrate(database.engine)}")
    except Exception as error:  # reported to the test, which shows it
        results.put(f"{type(error).__name__}: {error}")
    finally:
        database.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(5))
def test_processes_that_open_a_new_sqlite_store_at_once_all_migrate_it(tmp_path: Path, round_: int) -> None:
    url = f"sqlite:///{tmp_path / 'coordinator.db'}"
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [context.Process(target=_open, args=(url, barrier, results)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    outcomes = [results.get(timeout=10) for _ in processes]
    assert outcomes == [f"ok {LATEST}"] * PROCESSES, outcomes
    database = Database(url)
    with database.engine.connect() as connection:
        versions = [row[0] for row in connection.execute(text("SELECT version FROM coord_schema_version"))]
    database.dispose()
    assert sorted(versions) == list(range(1, LATEST + 1))
