"""Each benchmark runs (at the tiny size) and writes its report. Speed itself is never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_the_boundary_benchmark_runs_and_reports_ratios(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "boundary", "--size", "tiny", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())["boundary"]
    for transport in ("in_memory", "http"):
        assert report[transport]["ratio_p50_guarded_to_bare"] > 0
        assert report[transport]["guarded"]["p50_ms"] > 0 and report[transport]["bare"]["p50_ms"] > 0
    assert set(report["http_throughput"]) == {"1", "8"}


def test_the_end_to_end_and_memory_benchmarks_run_and_report(tmp_path: Path) -> None:
    for which, keys in (
        ("e2e", {"tickets_per_s", "mcp_calls_per_ticket", "coordinator_overhead_ms_per_handoff"}),
        ("memory", {"server_rss_kib_after_warmup", "server_rss_kib_after_load", "ratio_after_to_warmup"}),
    ):
        out = tmp_path / f"{which}.json"
        result = subprocess.run(
            [sys.executable, "-m", "bench", which, "--size", "tiny", "--json", str(out)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(out.read_text())[which]
        assert keys <= set(report)
        assert all(report[k] > 0 for k in keys)
