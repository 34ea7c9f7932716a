"""Evaluation: suites of scenarios run end to end, scored, and gated against a baseline.

`load_suite` reads a suite folder (DESIGN §7); `run_suite` runs it through the coordinator and real
MCP servers with faults injected at the server boundary (`Probe`, `FaultInjector`); `scores`,
`report` and `gate` turn the results into numbers (`interval`: how sure a share of a few dozen emails is), a JSON
report and a pass/fail verdict (`signed_once`:
whether a draft ends with the tenant's signature, once).
"""

from coordinator.eval._probe import FaultInjector, Probe
from coordinator.eval._runner import ScenarioResult, run_suite, signed_once
from coordinator.eval._scores import HIGHER_IS_BETTER, gate, interval, report, scores
from coordinator.eval._suite import Expect, Fault, Scenario, Suite, load_suite

__all__ = [
    "HIGHER_IS_BETTER",
    "Expect",
    "Fault",
    "FaultInjector",
    "Probe",
    "Scenario",
    "ScenarioResult",
    "Suite",
    "gate",
    "interval",
    "load_suite",
    "report",
    "run_suite",
    "scores",
    "signed_once",
]
