"""Specialists come from the `deskhand.specialists` entry points, the built-ins and a pip-installed one alike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coordinator._registry import load_specialists
from coordinator.models import OfflineModel
from schemas import InboundEmail
from specialists.kit import Manifest
from tests.conftest import REPO
from tests.specialists.harness import World

pytestmark = pytest.mark.anyio


def test_the_four_built_ins_are_entry_points() -> None:
    found = load_specialists()
    assert {"triage", "drafting", "compliance", "crm_writer"} <= set(found)
    for name, specialist in found.items():
        assert isinstance(specialist.manifest, Manifest) and specialist.manifest.name == name


async def test_a_pip_installed_specialist_package_runs_like_a_built_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world: World
) -> None:
    target = tmp_path / "site"
    result = subprocess.run(  # noqa: ASYNC221 - a one-off install before the async part
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(REPO / "examples" / "specialist-package"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    monkeypatch.syspath_prepend(str(target))
    specialists = load_specialists()
    assert "sentiment" in specialists
    sentiment = specialists["sentiment"]
    email = InboundEmail(
        sender=world.tenants["acme"].customers[0].email,
        subject="Unacceptable",
        body="This is the worst week, I am furious the export failed again.",
    )
    async with world.context(sentiment, "acme", OfflineModel()) as ctx:
        assert ctx.toolbox.available == {"crm.find_customer", "crm.get_account", "crm.list_interactions"}
        mood = await sentiment.run(email, ctx)
    assert mood.mood == "upset" and mood.known_customer and {"furiou", "worst", "unacceptable"} <= set(mood.words)
