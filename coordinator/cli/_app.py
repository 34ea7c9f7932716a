"""The `deskhand` command line (DESIGN §8): noun groups as `gh` and `temporal` have them.

    deskhand [--home DIR] [-o table|json] [--version]
      init | demo | work | submit | watch | replay | graph
      server serve|list    db current|upgrade    token mint
      runs list|show    approvals list|show|approve|reject    api serve|token    eval run|promote
      tenant check    new specialist

Each command lives in the module of its noun (`_server`, `_db`, `_token`, `_approvals`, `_eval`, ...) as a
plain function; this module assembles them. Expected failures (`DeskhandError`) print one line naming their
code and exit 1; usage errors exit 2 (Click's). The previous release's spellings go through `_legacy`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from coordinator._home import default_home
from coordinator.cli import (
    _api,
    _approvals,
    _db,
    _demo,
    _eval,
    _init,
    _legacy,
    _new,
    _prune,
    _runs,
    _runs_view,
    _server,
    _tenant,
    _token,
    _watch,
)
from coordinator.cli._context import Globals, Group, Output, err
from coordinator.cli._errors import expected


class RootGroup(Group):
    """The root command: old spellings rewritten (with a deprecation line), expected errors as one line, exit 1."""

    def main(self, args: Sequence[str] | None = None, *pos: Any, **kwargs: Any) -> Any:
        rewritten, notes = _legacy.rewrite(list(sys.argv[1:] if args is None else args))
        for note in notes:
            err.print(f"[yellow]deprecated[/]: {escape(note)}", highlight=False, soft_wrap=True)
        return super().main(rewritten, *pos, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:  # the top-level handler: an expected failure is reported, anything else re-raised
            failure = expected(exc)
            if failure is None:
                raise
            code, message = failure
            err.print(f"[bold red]error[/] ({code}): {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="deskhand",
    help="Run AI agents on a support inbox, with tenant-scoped MCP servers at the boundary.",
    cls=RootGroup,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _version(asked: bool) -> None:
    if asked:
        try:
            print(f"deskhand {package_version('deskhand')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            print("deskhand (not installed)")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path,
        typer.Option(
            "--home",
            envvar="DESKHAND_HOME",
            metavar="DIR",
            default_factory=default_home,
            show_default=False,
            help="Keys, databases and deskhand.toml. Default: $DESKHAND_HOME, else ~/.deskhand.",
        ),
    ],
    output: Annotated[
        Output, typer.Option("-o", "--output", help="table for people, json for scripts (commands that print data).")
    ] = "table",
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_version, help="Print the installed version and exit."),
    ] = False,
) -> None:
    ctx.obj = Globals(home, output)


app.command()(_init.init)
app.command()(_demo.demo)
app.command()(_runs.work)
app.command()(_runs.submit)
app.command()(_runs.replay)
app.command()(_runs.graph)
app.command()(_prune.prune)
app.command()(_watch.watch)
app.add_typer(_server.app, name="server")
app.add_typer(_db.app, name="db")
app.add_typer(_token.app, name="token")
app.add_typer(_runs_view.app, name="runs")
app.add_typer(_approvals.app, name="approvals")
app.add_typer(_api.app, name="api")
app.add_typer(_eval.app, name="eval")
app.add_typer(_tenant.app, name="tenant")
app.add_typer(_new.app, name="new")


def main() -> None:
    """Entry point of the `deskhand` console script."""
    app()
