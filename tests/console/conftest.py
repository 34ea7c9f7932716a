"""A real browser for the console's tests: Debian's Chromium, driven by Playwright through `executable_path`
(Playwright downloads no browser). Without a Chromium the browser tests skip, unless
DESKHAND_REQUIRE_CHROMIUM is set (CI installs Debian's `chromium` and sets it): then they fail."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest

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
async def browser(chromium: str) -> AsyncIterator[object]:
    """A headless Chromium (a `playwright.async_api.Browser`), closed after the test."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield launched
        finally:
            await launched.close()
