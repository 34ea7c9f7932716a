"""`deskhand tenant check FILE...`: what to fix in a tenant file before going live (exit 1 on errors);
`deskhand tenant read FILE EMAIL.json`: how triage reads one email by it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from coordinator.cli._context import globals_of, noun, out, print_json

app = noun("Tenant files: check one before going live, and see how triage reads an email by it.")


@app.command("check")
def check(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Tenant files (YAML).")],
) -> None:
    """Errors (what `init` refuses) and warnings: categories confused on their own examples, escalating
    categories without examples, templates without a greeting or signature, priority rules that never match;
    and where each kind of risk report goes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from coordinator._tenant_check import check_tenant_file

    as_json = globals_of(ctx).json
    checks = []
    bar = Progress(
        TextColumn("[bold]reading its own examples"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=out,
        disable=as_json or not out.is_terminal,  # a bar only where a person watches
        transient=True,
    )
    with bar:
        for path in files:
            task = bar.add_task(escape(path.name), total=None)

            def advance(done: int, total: int, task: TaskID = task) -> None:
                bar.update(task, completed=done, total=total)

            checks.append(check_tenant_file(path, advance))
            bar.remove_task(task)
    if as_json:
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


@app.command("read")
def read(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A tenant file (YAML).")],
    email_file: Annotated[
        Path,
        typer.Argument(metavar="EMAIL.json", help='An email: {"from": ..., "subject": ..., "body": ...}.'),
    ],
) -> None:
    """How triage reads one email by this tenant file, offline, as from a sender the CRM does not know (no plan,
    no earlier tickets): its category and confidence, the risk reports it makes, its priority and the rule that
    set it, and whether it goes to a person and why. No server is asked and nothing is stored."""
    from coordinator._tenant_check import read_email
    from coordinator.cli._runs import read_event
    from schemas import InboundEmail

    email = read_event(email_file, InboundEmail)
    assert isinstance(email, InboundEmail)
    reading = read_email(file, email)
    if globals_of(ctx).json:
        print_json(reading.as_json())
        return
    out.print(
        f"category {escape(reading.category)} (confidence {reading.confidence:.2f}): {escape(reading.rationale)}",
        highlight=False,
    )
    out.print(f"priority {reading.priority}: {escape(reading.priority_rule)}", highlight=False)
    for kind, category, said in reading.risks:
        out.print(f"risk report: {escape(kind)} → {escape(category)} ({escape(repr(said))})", highlight=False)
    if reading.reasons:
        out.print("[bold]goes to a person:[/]", highlight=False)
        for reason in reading.reasons:
            out.print(f"  {escape(reason)}", highlight=False)
    else:
        out.print("completed by triage: a draft follows", highlight=False)
