"""What every command shares: the global options (`--home`, `-o`) as a typed object on the Click context,
the consoles, printing data as a table or JSON, the option types used by several commands, and the command
classes that keep `--help` free of `<bool>`-style type noise."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperArgument, TyperGroup, TyperOption

from coordinator._home import Home

Output = Literal["table", "json"]


class Role(StrEnum):
    """The built-in roles `--role` offers (a test keeps them equal to `schemas.BUILTIN_ROLES`)."""

    reader = "reader"
    agent = "agent"
    approver = "approver"


out = Console()
err = Console(stderr=True)


@dataclass(frozen=True)
class Globals:
    """The root options, given before the command: `deskhand --home DIR -o json COMMAND ...`."""

    home_path: Path
    output: Output = "table"

    @property
    def json(self) -> bool:
        return self.output == "json"

    def home(self) -> Home:
        """The home `deskhand init` made (a clear error if it did not)."""
        return Home.load(self.home_path)


def globals_of(ctx: typer.Context) -> Globals:
    """The root options of this invocation (set by the root callback before any command runs)."""
    options = ctx.find_root().obj
    assert isinstance(options, Globals), "the root callback sets the global options"
    return options


def print_json(data: Any) -> None:
    """Data for scripts: one JSON document on stdout, nothing else."""
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def id_table(title: str, ids: tuple[str, ...], others: tuple[str, ...]) -> Table:
    """A table whose id columns are never cut or folded (so they can be copied); the other columns wrap."""
    table = Table(title=title, title_justify="left")
    for column in ids:
        table.add_column(column, no_wrap=True, overflow="ignore", min_width=len(column))
    for column in others:
        table.add_column(column, overflow="fold")
    return table


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        help="Coordinator store URL (default: the home's SQLite file; postgresql://... for many workers).",
    ),
]


def _registered_model(name: str) -> str:
    """`--model` names a backend of the `deskhand.models` entry points (read when given, not at start-up)."""
    from coordinator.models import backend_names

    if name not in backend_names():
        raise typer.BadParameter(f"{name!r} is not a model backend; expected one of {', '.join(backend_names())}")
    return name


ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        metavar="NAME",
        callback=_registered_model,
        help="A model backend of the deskhand.models entry points: offline, anthropic (needs ANTHROPIC_API_KEY), "
        "or one a package registers.",
    ),
]


# -- help without type noise ------------------------------------------------------------------------

_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH", "bool": ""}


def _choices(param: Any) -> str | None:
    descriptor = param.type_descriptor
    return "|".join(str(c) for c in descriptor.choices) if descriptor.is_choice and descriptor.choices else None


def _tidy(param: Any) -> None:
    """A flag shows no type; a valued option shows a plain metavar (TEXT, PATH, offline|anthropic); an
    argument shows its choices if it has some, else only its name."""
    if isinstance(param, TyperArgument):
        shown = _choices(param)
        setattr(param, "display_type_rich", lambda ctx: shown)  # noqa: B010  (an instance's own, not the class's)
        return
    if not isinstance(param, TyperOption) or param.metavar is not None:
        return
    if param.is_flag:
        param.metavar = ""
        return
    if (shown := _choices(param)) is not None:
        param.metavar = shown
        return
    name = param.bare_type()
    if name.startswith("list[") and name.endswith("]"):
        name = name[5:-1]
    param.metavar = _TYPE_NAMES.get(name, name.upper())


class Group(TyperGroup):
    """A command group whose commands' help shows plain metavars (see `_tidy`)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = cast(list[Any], super().get_params(ctx))
        for param in params:
            _tidy(param)
        return params

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and not isinstance(command, TyperGroup):
            for param in [*command.params, command.get_help_option(ctx)]:
                _tidy(param)
        return command


def noun(help: str) -> typer.Typer:
    """A noun group (`deskhand approvals ...`): its commands are listed when it is run alone."""
    return typer.Typer(help=help, no_args_is_help=True, cls=Group)
