"""`deskhand watch`: tenants' new mail turned into runs, continuously (or once)."""

from __future__ import annotations

import json
import signal
from typing import Annotated

import anyio
import typer
from rich.markup import escape

from coordinator.cli._context import DbOption, err, globals_of, out
from schemas import DeskhandError, NotFound


def watch(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="The tenant whose mailbox to watch (default: every tenant).")
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", min=1.0, max=86_400.0, help="Seconds between two looks at the mailboxes.")
    ] = 30.0,
    once: Annotated[bool, typer.Option("--once", help="Look once, submit what is new, and exit.")] = False,
    db: DbOption = None,
) -> None:
    """Submit each tenant's new mail as runs, and keep doing so: the mailbox server is asked for unprocessed mail
    every --interval seconds, and each message not yet submitted is (one run per Message-ID, however often it is
    listed, by however many watchers). Prints each run it starts (`-o json`: one JSON object a line).

    Running workers (`deskhand work`) process the runs. Ctrl-C or SIGTERM stops it (exit 0). With --once, a
    mailbox server that cannot be reached is an error (exit 1); otherwise it is reported and asked again."""
    from coordinator._service import routes_of
    from coordinator._sessions import SessionPool, http_connector
    from coordinator._watch import submit_new_mail
    from coordinator.store import Store

    options = globals_of(ctx)
    home = options.home()
    if tenant is not None and tenant not in home.tenants:
        raise NotFound(f"--tenant {tenant!r}: not loaded here; known: {list(home.tenants)}", field="tenant")
    tenants = [tenant] if tenant is not None else list(home.tenants)

    def note(text: str) -> None:
        err.print(f"[yellow]note[/]: {escape(text)}", highlight=False, soft_wrap=True)

    async def look(store: Store, pool: SessionPool) -> None:
        for name in tenants:
            for submitted in await submit_new_mail(home, store, pool, name, note):
                if options.json:
                    print(json.dumps(vars(submitted), ensure_ascii=False), flush=True)
                else:
                    out.print(
                        f"submitted: run {submitted.run} tenant {submitted.tenant} message {submitted.message_id} "
                        f"{escape(json.dumps(submitted.subject, ensure_ascii=False))}",
                        highlight=False,
                        soft_wrap=True,
                    )

    async def main() -> None:
        store = Store(db or home.coordinator_db)
        try:
            async with SessionPool(http_connector(routes_of(home))) as pool, anyio.create_task_group() as tg:
                await tg.start(_stop_on_signals, tg.cancel_scope)
                if not once:
                    err.print(f"deskhand watch: watching {', '.join(tenants)} every {interval:g}s", highlight=False)
                while True:
                    try:
                        await look(store, pool)
                    except DeskhandError as exc:
                        if once:
                            raise
                        err.print(
                            f"[bold red]error[/] ({exc.code}): {escape(exc.message)}; asking again in {interval:g}s",
                            highlight=False,
                            soft_wrap=True,
                        )
                    if once:
                        break
                    await anyio.sleep(interval)
                tg.cancel_scope.cancel()
        finally:
            store.dispose()

    anyio.run(main)


async def _stop_on_signals(
    scope: anyio.CancelScope, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Ctrl-C or SIGTERM: stop looking (a run being submitted is in the store or not, never half)."""
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for _ in signals:
                err.print("deskhand watch: stopped", highlight=False)
                scope.cancel()
                return
    except NotImplementedError:  # no signals in this event loop (Windows): Ctrl-C stops at once
        task_status.started()
