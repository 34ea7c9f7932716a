from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import TenantFile
from tests.conftest import Issuer
from tests.specialists.harness import World


@pytest.fixture
def world(tmp_path: Path, tenants: list[TenantFile], issuer: Issuer) -> Iterator[World]:
    world = World.build(tmp_path, tenants, issuer)
    yield world
    world.dispose()
