"""The coordinator's audit entries and exchange log: written behind the per-handoff path by a thread of the
store's own (queued, and committed together every 50 ms), read after what is queued is written."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import col, select

from coordinator.store._sql import AUDIT, EXCHANGE, INSERT, session
from coordinator.store._tables import AuditEntry, AuditRecord, ExchangeRecord, ExchangeRow

logger = logging.getLogger(__name__)


class RecordWriter:
    """Audit entries and exchanges, queued in order and written in one transaction every `interval`
    seconds by a daemon thread (started on first use). `flush` writes what is queued at once."""

    def __init__(self, engine: Engine, *, interval: float = 0.05) -> None:
        self._engine = engine
        self._interval = interval
        self._queued: list[tuple[Sequence[AuditRecord], Sequence[ExchangeRecord]]] = []
        self._queue_lock = threading.Lock()
        self._write_lock = threading.Lock()  # batches are written one at a time, in the order they were queued
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, audit: Sequence[AuditRecord], exchanges: Sequence[ExchangeRecord]) -> None:
        if not audit and not exchanges:
            return
        with self._queue_lock:
            if self._closed:
                raise RuntimeError("the store was disposed of")
            self._queued.append((audit, exchanges))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deskhand-records", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        with self._write_lock:
            with self._queue_lock:
                batch, self._queued = self._queued, []
            audit = [row for entries, _ in batch for row in entries]
            exchanges = [row for _, rows in batch for row in rows]
            if not audit and not exchanges:
                return
            try:
                with self._engine.begin() as connection:
                    if audit:
                        connection.execute(INSERT[AUDIT], audit)
                    if exchanges:
                        connection.execute(INSERT[EXCHANGE], exchanges)
            except Exception:
                with self._queue_lock:  # nothing was written: the rows go back, first in line
                    self._queued[:0] = batch
                raise

    def close(self) -> None:
        with self._queue_lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            try:
                self.flush()
            except Exception:  # the top of the writer thread: the rows wait for the next try; say why
                logger.exception("writing the coordinator's audit and exchanges failed; retrying")


class Records:
    """The audit trail and the exchange log of runs: entries written at once or queued behind the handoff,
    and read with what is queued written first."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.writer = RecordWriter(engine)

    def audit(self, entry: AuditEntry) -> None:
        with session(self._engine) as opened:
            opened.add(entry)
            opened.commit()

    def audit_trail(self, run_id: str) -> list[AuditEntry]:
        self.writer.flush()
        with session(self._engine) as opened:
            return list(
                opened.exec(
                    select(AuditEntry)
                    .where(AuditEntry.run_id == run_id)
                    .order_by(col(AuditEntry.at), col(AuditEntry.seq))
                ).all()
            )

    def exchanges(self, run_id: str) -> list[ExchangeRow]:
        self.writer.flush()
        with session(self._engine) as opened:
            return list(
                opened.exec(
                    select(ExchangeRow).where(ExchangeRow.run_id == run_id).order_by(col(ExchangeRow.seq))
                ).all()
            )

    def close(self) -> None:
        """Write what is queued and stop the writer thread."""
        self.writer.close()
