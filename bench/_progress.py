"""Progress on stderr while the benchmarks run: one bar over every measured block, named as each starts.

The bar is redrawn only when a block starts, never from a refresh thread: the e2e and memory benchmarks
measure the coordinator in this very process, and a redraw ten times a second would be part of what they
measure. Where stderr is not a terminal (a CI log, a file), each block is a line instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Step = Callable[[str], None]
"""Called as a measured block starts, with what it is."""


def quiet(_: str) -> None:
    """No progress shown."""


@contextmanager
def progress_bar(total: int) -> Iterator[Step]:
    """A `Step` that moves a bar of `total` blocks (each call ends the block before it)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        done = 0

        def line(what: str) -> None:
            nonlocal done
            done += 1
            console.print(f"[{done}/{total}] {what}", highlight=False, markup=False)

        yield line
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=False,
    )
    with progress:
        task = progress.add_task("starting", total=total)
        begun = False

        def step(what: str) -> None:
            nonlocal begun
            progress.update(task, advance=1 if begun else 0, description=what)
            begun = True
            progress.refresh()

        yield step
        progress.update(task, advance=1 if begun else 0, description="done")
        progress.refresh()
