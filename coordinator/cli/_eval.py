"""`deskhand eval SUITE`: run a suite, print the scores, write the JSON report, gate on a baseline."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from coordinator._home import default_home
from schemas import ConfigError

out = Console()


def register(app: typer.Typer) -> None:
    @app.command("eval", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def eval_(
        ctx: typer.Context,
        suite: Annotated[Path, typer.Argument(help="A folder with tenants/*.yaml and scenarios.jsonl.")],
        model: Annotated[str, typer.Option("--model", help="offline (default) or anthropic.")] = "offline",
        json_out: Annotated[Path | None, typer.Option("--json", help="Write the JSON report here.")] = None,
        baseline: Annotated[Path | None, typer.Option("--baseline", help="A JSON report to compare with.")] = None,
        tolerance: Annotated[
            float, typer.Option("--tolerance", min=0.0, max=1.0, help="Largest allowed drop of a score.")
        ] = 0.02,
    ) -> None:
        """Run an evaluation suite end to end and score it; with --baseline, fail on a regression.

        `deskhand eval promote RUN_ID --suite DIR [--home H] [--db URL] [--id ID]` turns a recorded run into a
        scenario line of DIR/scenarios.jsonl (it expects what the run did).
        """
        from coordinator.cli import _serve
        from coordinator.eval import FaultInjector, Probe, gate, load_suite, report, run_suite
        from coordinator.models import backend_names, build_model
        from coordinator.store import Store

        if str(suite) == "promote" and not suite.is_dir():
            _promote(ctx.args)
            return
        if ctx.args:
            raise ConfigError(f"unexpected arguments {ctx.args}; see `deskhand eval --help`", field="arguments")

        if model not in backend_names():
            raise ConfigError(f"--model {model!r}: expected one of {', '.join(backend_names())}", field="model")
        loaded = load_suite(suite)  # every line checked before anything runs
        base: dict[str, Any] | None = None
        if baseline is not None:
            try:
                base = json.loads(baseline.read_text(encoding="utf-8"))["scores"]
            except (OSError, ValueError, KeyError) as exc:
                raise ConfigError(f"{baseline}: not a deskhand eval report ({exc})", field="baseline") from exc
        probe = Probe()
        backend = build_model(model)

        async def main() -> dict[str, Any]:
            with tempfile.TemporaryDirectory(prefix="deskhand-eval-") as workspace:
                store = Store(f"sqlite:///{Path(workspace) / 'coordinator.db'}")
                progress = Progress(
                    TextColumn("[bold]evaluating"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.description}"),
                    TimeElapsedColumn(),
                    console=out,
                )
                try:
                    async with _serve.in_memory_world(
                        Path(workspace), loaded.tenants, lambda server: [FaultInjector(probe, server)]
                    ) as connect:
                        with progress:
                            task = progress.add_task("", total=len(loaded.scenarios))
                            results = await run_suite(
                                loaded,
                                connect,
                                probe,
                                store=store,
                                model=backend,
                                on_result=lambda r: progress.update(task, advance=1, description=r.scenario.id),
                            )
                finally:
                    store.dispose()
            return report(results, backend.name)

        result = anyio.run(main)
        _print(result)
        if json_out is not None:
            json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
            out.print(f"report written to {json_out}", highlight=False)
        if base is not None:
            problems = gate(result["scores"], base, tolerance)
            if problems:
                for problem in problems:
                    out.print(f"[bold red]regression[/]: {problem}", highlight=False)
                raise typer.Exit(1)
            out.print(f"[green]no regression[/] against {baseline} (tolerance {tolerance})", highlight=False)


def _promote(args: list[str]) -> None:
    import argparse

    from coordinator._home import Home
    from coordinator._replay import promote, scenario_line
    from coordinator.store import Store

    parser = argparse.ArgumentParser(prog="deskhand eval promote", exit_on_error=False)
    parser.add_argument("run_id")
    parser.add_argument("--suite", type=Path, required=True)
    parser.add_argument("--home", type=Path, default=default_home())
    parser.add_argument("--db")
    parser.add_argument("--id", dest="scenario_id")
    try:
        parsed = parser.parse_args(args)
    except (argparse.ArgumentError, SystemExit) as exc:
        raise ConfigError(f"deskhand eval promote RUN_ID --suite DIR [--home H] [--db URL] [--id ID]: {exc}") from None
    target = parsed.suite / "scenarios.jsonl"
    if not target.exists():
        raise ConfigError(f"{target} does not exist: --suite takes a suite folder", field="suite")
    store = Store(parsed.db or Home.load(parsed.home).coordinator_db)
    try:
        line = scenario_line(promote(store, parsed.run_id, parsed.scenario_id))
    finally:
        store.dispose()
    with target.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    out.print(f"added to {target}: {line}", highlight=False)


def _print(result: dict[str, Any]) -> None:
    table = Table(title=f"Scores ({result['model']} model)", title_justify="left")
    table.add_column("score")
    table.add_column("value", justify="right")
    for name, value in result["scores"].items():
        table.add_row(name, "-" if value is None else str(value))
    out.print(table)
    if result["failures"]:
        failures = Table(title=f"{len(result['failures'])} scenarios with failures", title_justify="left")
        failures.add_column("scenario")
        failures.add_column("why")
        for failure in result["failures"]:
            failures.add_row(failure["id"], "; ".join(failure["reasons"]))
        out.print(failures)
