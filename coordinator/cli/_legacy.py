"""The spellings of the previous release, still accepted for one release with a deprecation line on stderr.

- `deskhand serve NAME ...`          is `deskhand server serve NAME ...`
- `deskhand eval SUITE ...`          is `deskhand eval run SUITE ...`
- `deskhand COMMAND ... --home DIR`  is `deskhand --home DIR COMMAND ...`

Remove this module (and its call in `_app`) in the release after next.
"""

from __future__ import annotations

ROOT_VALUE_OPTIONS = ("--home", "-o", "--output")
EVAL_COMMANDS = ("run", "promote", "--help", "-h")


def _command_index(args: list[str]) -> int:
    """Where the command starts, after the root options (and their values)."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in ROOT_VALUE_OPTIONS else 1
    return i


def rewrite(args: list[str]) -> tuple[list[str], list[str]]:
    """The arguments in this release's spelling, and a deprecation line for each old spelling found."""
    at = _command_index(args)
    if at >= len(args):
        return args, []
    head, command, rest = args[:at], args[at], args[at + 1 :]
    notes: list[str] = []
    moved: list[str] = []
    kept: list[str] = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            kept += rest[i:]
            break
        if arg == "--home" and i + 1 < len(rest):
            moved += rest[i : i + 2]
            i += 2
            continue
        if arg.startswith("--home="):
            moved.append(arg)
        else:
            kept.append(arg)
        i += 1
    if moved:
        notes.append(
            "`--home` after the command goes in the next release: give it first, `deskhand --home DIR COMMAND`"
        )
    if command == "serve":
        notes.append("`deskhand serve` is now `deskhand server serve`")
        command, kept = "server", ["serve", *kept]
    elif command == "eval" and kept and kept[0] not in EVAL_COMMANDS:
        notes.append("`deskhand eval SUITE` is now `deskhand eval run SUITE`")
        kept = ["run", *kept]
    return [*head, *moved, command, *kept], notes
