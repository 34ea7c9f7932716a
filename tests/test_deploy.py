"""What ships under deploy/: the Grafana dashboard queries only metrics a real scrape has."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from coordinator.store import Store
from coordinator.telemetry import CoordinatorMetrics, StoreGauges
from mcp_servers import crm
from mcp_servers.kit import Database, Exposition
from tests.conftest import REPO

DASHBOARD = REPO / "deploy" / "grafana" / "deskhand.json"
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"), "gauge": ("",)}


def exprs(node: Any) -> list[str]:
    """Every PromQL `expr` (and templating `query`) in the dashboard."""
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k in ("expr", "query") and isinstance(v, str)]
        return found + [e for v in node.values() for e in exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in exprs(v)]
    return []


def scraped_names(text: str) -> set[str]:
    """The sample names a scrape can hold, from its families (a labelled metric with no sample yet still names its
    family and type)."""
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def scrapes(tmp_path: Path) -> str:
    """What a coordinator's and a server's `/metrics` render, one after the other."""
    store = Store(f"sqlite:///{tmp_path / 'coordinator.db'}")
    server = crm.build_server(Database(f"sqlite:///{tmp_path / 'crm.db'}"))
    try:
        coordinator = Exposition(CoordinatorMetrics().registry, [StoreGauges(store, lambda: {"acme": 50.0})]).render()
        return coordinator.decode() + Exposition(server.metrics.registry).render().decode()
    finally:
        store.dispose()
        server.db.dispose()


def test_the_readmes_metric_list_names_every_family_a_scrape_has(tmp_path: Path) -> None:
    """README's "Watch it run" table and docs/observability.md's tables each name every metric family there is, and
    none that is not."""
    families = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in text_string_to_metric_families(scrapes(tmp_path))
        if family.name.startswith("deskhand_")
    }
    readme = (REPO / "README.md").read_text(encoding="utf-8").split("## Watch it run", 1)[1].split("\n## ", 1)[0]
    guide = (REPO / "docs" / "observability.md").read_text(encoding="utf-8")
    for text in (readme, guide):
        named = set(re.findall(r"`(deskhand_[a-z_]+)`", text))
        assert sorted(families - named) == [] and sorted(named - families) == []


def test_every_metric_the_dashboard_queries_exists_in_a_real_scrape(tmp_path: Path) -> None:
    names = scraped_names(scrapes(tmp_path))
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {name for expr in exprs(dashboard) for name in re.findall(r"\bdeskhand_[a-z_]+", expr)}
    assert len(queried) >= 15
    assert sorted(queried - names) == []
    titles = " ".join(p.get("title", "") for p in dashboard["panels"]).lower()
    for asked in ("completion", "latency", "tool-selection", "escalation", "rework", "cost per successful", "tenant",
                  "denied", "token"):  # fmt: skip
        assert asked in titles, asked
