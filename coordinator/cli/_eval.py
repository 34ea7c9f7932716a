"""`deskhand eval run|promote`: run a suite, print the scores, write the JSON report, gate on a baseline;
turn a recorded run into a scenario."""

from __future__ import annotations

import json
import tempfile
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from coordinator.cli._context import DbOption, ModelOption, err, globals_of, noun, out, print_json
from schemas import ConfigError

app = noun("Evaluation suites: run one and score it; turn a recorded run into a scenario.")


@app.command("run")
def run(
    ctx: typer.Context,
    suite: Annotated[Path, typer.Argument(metavar="SUITE", help="A folder with tenants/*.yaml and scenarios.jsonl.")],
    model: ModelOption = "offline",
    json_out: Annotated[Path | None, typer.Option("--json", metavar="FILE", help="Write the JSON report here.")] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", metavar="FILE", help="A JSON report to compare with.")
    ] = None,
    tolerance: Annotated[
        float, typer.Option("--tolerance", min=0.0, max=1.0, help="Largest allowed drop of a score.")
    ] = 0.02,
    keep: Annotated[
        Path | None,
        typer.Option(
            "--keep",
            metavar="DIR",
            help="Keep the runs' store (DIR/coordinator.db) and the servers' databases in DIR (new or empty), "
            "to replay or promote a run.",
        ),
    ] = None,
) -> None:
    """Run an evaluation suite end to end and score it; with --baseline, fail on a regression.

    With `-o json` the report is printed on stdout (and no progress bar)."""
    from coordinator.cli import _serve
    from coordinator.eval import FaultInjector, Probe, gate, load_suite, report, run_suite
    from coordinator.models import build_model
    from coordinator.store import Store

    as_json = globals_of(ctx).json
    loaded = load_suite(suite)  # every line checked before anything runs
    base: dict[str, Any] | None = None
    if baseline is not None:
        try:
            base = json.loads(baseline.read_text(encoding="utf-8"))["scores"]
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"{baseline}: not a deskhand eval report ({exc})", field="baseline") from exc
    if keep is not None and keep.exists() and (not keep.is_dir() or any(keep.iterdir())):
        raise ConfigError(f"--keep {keep}: expected a new or empty folder", field="keep")
    probe = Probe()
    backend = build_model(model)
    console = err if as_json else out

    async def main() -> dict[str, Any]:
        with _workspace(keep) as workspace:
            store = Store(f"sqlite:///{Path(workspace) / 'coordinator.db'}")
            progress = Progress(
                TextColumn("[bold]evaluating"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                disable=as_json,
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
    if as_json:
        print_json(result)
    else:
        _print(result)
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        console.print(f"report written to {json_out}", highlight=False)
    if keep is not None:
        console.print(
            f"runs kept in sqlite:///{keep.resolve() / 'coordinator.db'} (replay or promote one with --db)",
            highlight=False,
            soft_wrap=True,
        )
    if base is not None:
        problems = gate(result["scores"], base, tolerance)
        if problems:
            for problem in problems:
                console.print(f"[bold red]regression[/]: {problem}", highlight=False)
            raise typer.Exit(1)
        console.print(f"[green]no regression[/] against {baseline} (tolerance {tolerance})", highlight=False)


@app.command("promote")
def promote(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The recorded run to turn into a scenario.")],
    suite: Annotated[Path, typer.Option("--suite", metavar="DIR", help="The suite whose scenarios.jsonl gets it.")],
    db: DbOption = None,
    scenario_id: Annotated[
        str | None, typer.Option("--id", metavar="ID", help="The scenario's id (default: promoted-RUN_ID).")
    ] = None,
) -> None:
    """Turn a recorded run into a scenario line of SUITE/scenarios.jsonl that expects what the run did.

    The line is marked `promoted_from: RUN_ID`; a run already in the suite is not added again."""
    from coordinator._replay import already_promoted, scenario_ids, scenario_line
    from coordinator._replay import promote as promote_run
    from coordinator.store import Store

    target = suite / "scenarios.jsonl"
    if not target.exists():
        raise ConfigError(f"{target} does not exist: --suite takes a suite folder", field="suite")
    written = target.read_text(encoding="utf-8")
    found = already_promoted(written, run_id)
    if found is not None:
        if globals_of(ctx).json:
            print_json({"suite": str(suite), "scenario": found, "added": False})
        else:
            out.print(f"already in {suite} as {found.get('id')}: nothing changed", highlight=False, soft_wrap=True)
        return
    store = Store(db or globals_of(ctx).home().coordinator_db)
    try:
        scenario = promote_run(store, run_id, scenario_id)
    finally:
        store.dispose()
    if scenario["id"] in scenario_ids(written):
        raise ConfigError(
            f"{target}: the id {scenario['id']!r} is taken by another scenario; pass another --id", field="id"
        )
    line = scenario_line(scenario)
    with target.open("a", encoding="utf-8") as handle:
        handle.write(("\n" if written and not written.endswith("\n") else "") + line + "\n")
    if globals_of(ctx).json:
        print_json({"suite": str(suite), "scenario": scenario, "added": True})
    else:
        out.print(f"added to {target}: {line}", highlight=False, soft_wrap=True)


def _workspace(keep: Path | None) -> AbstractContextManager[str]:
    """Where a suite's servers and store live while it runs: a temporary folder, or `keep`, left behind."""
    if keep is None:
        return tempfile.TemporaryDirectory(prefix="deskhand-eval-")
    keep.mkdir(parents=True, exist_ok=True)
    return nullcontext(str(keep))


def _print(result: dict[str, Any]) -> None:
    table = Table(title=f"Scores ({result['model']} model)", title_justify="left")
    table.add_column("score")
    table.add_column("value", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_column("judged", justify="right")
    intervals = result.get("intervals", {})
    for name, value in result["scores"].items():
        span = intervals.get(name)
        table.add_row(
            name,
            "-" if value is None else str(value),
            "" if span is None else f"{span['low']:.2f}-{span['high']:.2f}",
            "" if span is None else str(span["of"]),
        )
    out.print(table)
    if result["failures"]:
        failures = Table(title=f"{len(result['failures'])} scenarios with failures", title_justify="left")
        failures.add_column("scenario")
        failures.add_column("why")
        for failure in result["failures"]:
            failures.add_row(failure["id"], "; ".join(failure["reasons"]))
        out.print(failures)
