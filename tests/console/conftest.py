"""A real browser for the console's tests: Debian's Chromium, driven by Playwright through `executable_path`
(Playwright downloads no browser). Without a Chromium the browser tests skip, unless
DESKHAND_REQUIRE_CHROMIUM is set (CI installs Debian's `chromium` and sets it): then they fail."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.coordinator.api.conftest import deployment  # noqa: F401  (the API's deployment, served with the console)

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    """The browser to drive: $DESKHAND_CHROMIUM, else a Chromium on PATH."""
    given = os.environ.get("DESKHAND_CHROMIUM")
    if given:
        return given
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        reason = "no Chromium on PATH (apt-get install chromium, or set DESKHAND_CHROMIUM)"
        if os.environ.get("DESKHAND_REQUIRE_CHROMIUM"):
            pytest.fail(f"DESKHAND_REQUIRE_CHROMIUM is set but {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture
def browser(chromium: str) -> Iterator[Browser]:
    """A headless Chromium for one test (Playwright keeps an event loop running in this thread meanwhile)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield launched
        finally:
            launched.close()
