"""The limits table of docs/tenant-files.md is the tenant file's models' own limits, read from their fields."""

from __future__ import annotations

import re

from schemas import FieldLimit, TenantFile, field_limits
from tests.conftest import REPO

ROW = re.compile(r"^\| `([^`]+)` \| ([^|]+) \| ([^|]*) \|$")


def documented_limits() -> list[FieldLimit]:
    page = (REPO / "docs" / "tenant-files.md").read_text(encoding="utf-8")
    section = page.split("\n## Limits\n", 1)[1].split("\n## ", 1)[0]
    return [FieldLimit(*(g.strip() for g in m.groups())) for m in map(ROW.match, section.splitlines()) if m]


def test_the_documented_limits_are_the_models_limits() -> None:
    assert documented_limits() == field_limits(TenantFile)


def test_free_text_has_room_for_a_real_business_and_names_stay_bounded() -> None:
    limits = {row.field: row.limit for row in field_limits(TenantFile)}
    assert limits["policy.categories[].description"] == "up to 4,000 characters"
    assert limits["policy.categories[].examples[]"] == "up to 2,000 characters"
    assert limits["policy.drafting.templates (values)"] == "up to 10,000 characters"
    assert limits["articles[].body"] == "up to 50,000 characters"
    assert limits["policy.categories[].name"] == "up to 64 characters"
    assert limits["tenant"] == "2–63 characters"
