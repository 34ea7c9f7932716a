"""The `deskhand` command line. `main` is the console script; `app` the Typer application."""

from coordinator.cli._app import app, main

__all__ = ["app", "main"]
