"""`deskhand tenant check FILE...`: what to fix in a tenant file before going live (exit 1 on errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from coordinator.cli._context import globals_of, noun, out, print_json

app = noun("Tenant files: check one before going live.")


@app.command("check")
def check(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Tenant files (YAML).")],
) -> None:
    """Errors (what `init` refuses) and warnings: categories confused on their own examples, escalating
    categories without examples, templates without a greeting or signature, priority rules that never match;
    and where each kind of risk report goes."""
    from coordinator._tenant_check import check_tenant_file

    checks = [check_tenant_file(path) for path in files]
    if globals_of(ctx).json:
        print_json([c.as_json() for c in checks])
    else:
        for c in checks:
            errors = sum(f.level == "error" for f in c.findings)
            warnings = len(c.findings) - errors
            mark = "[green]ok[/]" if c.ok else "[bold red]errors[/]"
            out.print(f"{mark} {escape(str(c.file))}: {errors} error(s), {warnings} warning(s)", highlight=False)
            for f in c.findings:
                colour = "red" if f.level == "error" else "yellow"
                out.print(f"  [{colour}]{f.level}[/] {escape(f.field)}: {escape(f.message)}", highlight=False)
            if c.accuracy:
                shown = ", ".join(f"{n} {'-' if a is None else f'{a:.2f}'}" for n, a in c.accuracy.items())
                out.print(f"  own examples read right (leave one out): {escape(shown)}", highlight=False)
            if c.risks:
                out.print("  risk reports go to (whatever words they are written in):", highlight=False)
                for kind, category in c.risks.items():
                    where = category or "no escalating category: left to the classifier"
                    out.print(f"    {escape(kind)} → {escape(where)}", highlight=False)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
