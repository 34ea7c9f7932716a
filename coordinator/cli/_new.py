"""`deskhand new specialist NAME` and `deskhand new server NAME`: a third-party package to start from.

The package is written from the template files in `templates/specialist/` or `templates/server/` (package data),
each rendered with
`string.Template`, its path too (`${package}/__init__.py.tmpl` becomes `deskhand_NAME/__init__.py`). Every file
is rendered before the first is written, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import re
import shlex
from importlib import resources
from importlib.metadata import PackageNotFoundError, distribution
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template
from typing import Annotated

import typer
from rich.markup import escape

from coordinator.cli._context import globals_of, noun, out, print_json
from schemas import BUILTIN_SERVERS, SCOPE_PREFIX_SERVER, Conflict
from specialists.kit import ENTRY_POINT_GROUP

app = noun("Start a package of your own from a template.")

NAME = re.compile(r"[a-z][a-z0-9_]{1,40}")
"""A lower-case Python identifier that is also a manifest's name (`specialists.kit.Manifest.name`)."""

SUFFIX = ".tmpl"


def _builtin_names() -> set[str]:
    try:
        return {e.name for e in distribution("deskhand").entry_points if e.group == ENTRY_POINT_GROUP}
    except PackageNotFoundError:  # a source tree never installed: it registers nothing
        return set()


def _checked_name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise typer.BadParameter(
            f"{value!r} is not a lower-case Python identifier of 2 to 41 characters starting with a letter "
            "(a specialist's name, as its manifest and entry point give it: e.g. tone_check)"
        )
    if value in _builtin_names():
        raise typer.BadParameter(f"{value!r} is a built-in specialist's name; choose another")
    return value


def _templates(folder: Traversable, prefix: str = "") -> list[tuple[str, str]]:
    """Every template under `folder`: (its path below the folder, its text)."""
    found: list[tuple[str, str]] = []
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if item.is_dir():
            found += _templates(item, f"{prefix}{item.name}/")
        elif item.name.endswith(SUFFIX):
            found.append((prefix + item.name.removesuffix(SUFFIX), item.read_text(encoding="utf-8")))
    return found


def render(kind: str, values: dict[str, str]) -> dict[str, str]:
    """The files of template `kind` with `values` filled in: relative path -> text."""
    folder = resources.files("coordinator.cli") / "templates" / kind
    return {Template(path).substitute(values): Template(text).substitute(values) for path, text in _templates(folder)}


def _deskhand_version() -> str:
    try:
        return distribution("deskhand").version
    except PackageNotFoundError:
        return "0.1.0"


@app.command("specialist")
def specialist(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", callback=_checked_name, help="The specialist's name: a lower-case Python identifier."
        ),
    ],
    directory: Annotated[
        Path | None,
        typer.Option("--dir", metavar="DIR", help="Where to write the package. Default: ./deskhand-NAME."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into DIR even if it is not empty.")] = False,
) -> None:
    """A specialist package to start from: its entry point, the specialist, a README and tests.

    The specialist asks for one read-only scope and judges offline by a plain rule; its tests run it against the
    reference MCP servers. NAME is its name in the manifest and entry point; its package is deskhand_NAME."""
    target = directory if directory is not None else Path(f"deskhand-{name}")
    _check_target(target, force)
    files = render(
        "specialist",
        {
            "name": name,
            "package": f"deskhand_{name}",
            "dist": f"deskhand-{name.replace('_', '-')}",
            "cls": "".join(part.capitalize() for part in name.split("_")),
            "dir": shlex.quote(str(target)),  # as the README's commands give it to a shell
            "dir_test": shlex.quote(f"{target}[test]"),
            "deskhand_version": _deskhand_version(),
        },
    )
    _write(ctx, target, files)


def _check_target(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise Conflict(f"{target} is a file, not a folder", field="--dir")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise Conflict(f"{target} is not empty; pass --force to write the package into it", field="--dir")


def _write(ctx: typer.Context, target: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if globals_of(ctx).json:
        print_json({"dir": str(target), "files": sorted(files)})
        return
    out.print(f"wrote {escape(str(target))}: {len(files)} files", highlight=False)
    for relative in sorted(files):
        out.print(f"  {escape(relative)}", highlight=False)
    out.print(
        f"next: pip install -e {escape(str(target))} && python -m pytest {escape(str(target))}",
        highlight=False,
        soft_wrap=True,
    )


def _checked_server_name(value: str) -> str:
    if not NAME.fullmatch(value) or len(value) > 32:
        raise typer.BadParameter(
            f"{value!r} is not a lower-case Python identifier of 2 to 32 characters starting with a letter "
            "(a server's name, the prefix of its scopes: e.g. orders, for orders:read)"
        )
    if value in BUILTIN_SERVERS or value in SCOPE_PREFIX_SERVER:
        raise typer.BadParameter(f"{value!r} is a built-in server's name or scope prefix; choose another")
    return value


@app.command("server")
def server(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            callback=_checked_server_name,
            help="The server's name: a lower-case Python identifier, the prefix of its scopes.",
        ),
    ],
    directory: Annotated[
        Path | None,
        typer.Option("--dir", metavar="DIR", help="Where to write the package. Default: ./deskhand-NAME-server."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into DIR even if it is not empty.")] = False,
) -> None:
    """An MCP server package to start from: its entry point, two tools over a tenant-scoped table, a README and tests.

    NAME is the server's name (`deskhand server serve NAME`) and the prefix of its scopes (NAME:read, NAME:write);
    its package is deskhand_NAME_server. The tests call it through a real MCP client with signed tokens."""
    target = directory if directory is not None else Path(f"deskhand-{name.replace('_', '-')}-server")
    _check_target(target, force)
    files = render(
        "server",
        {
            "name": name,
            "package": f"deskhand_{name}_server",
            "dist": f"deskhand-{name.replace('_', '-')}-server",
            "dir": shlex.quote(str(target)),
            "dir_test": shlex.quote(f"{target}[test]"),
            "deskhand_version": _deskhand_version(),
        },
    )
    _write(ctx, target, files)
