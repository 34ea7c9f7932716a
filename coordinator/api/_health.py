"""Health (the process answers) and readiness (the store answers, at the schema this deskhand expects)."""

from __future__ import annotations

import anyio
from sqlalchemy.exc import SQLAlchemyError

from coordinator.api._endpoints import Call
from coordinator.api._models import Health, NoBody, NoQuery, Ready
from coordinator.store import LATEST, current_version
from schemas import Unavailable


async def healthz(call: Call[NoQuery, NoBody]) -> Health:
    return Health(status="ok")


async def readyz(call: Call[NoQuery, NoBody]) -> Ready:
    try:
        version = await anyio.to_thread.run_sync(lambda: current_version(call.api.store.engine))
    except SQLAlchemyError as exc:
        raise Unavailable(f"the store does not answer: {type(exc).__name__}", retry_after=5) from None
    if version != LATEST:
        raise Unavailable(
            f"the store is at schema version {version}, this deskhand expects {LATEST}: run `deskhand db upgrade`"
        )
    return Ready(status="ready", schema_version=version)
