"""The workflow a run goes through: the version it started on, even after its file changed or the process
restarted (the store keeps each version a run started on)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coordinator.runtime._intake import WORKFLOW_KEY
from coordinator.store import Store
from coordinator.workflow import Workflow, parse_workflow
from schemas import ConfigError
from specialists.kit import Manifest


class WorkflowVersions:
    def __init__(self, current: Mapping[str, Workflow], manifests: Mapping[str, Manifest], store: Store) -> None:
        self.manifests, self.store = manifests, store
        self.by_version: dict[str, Workflow] = {w.version: w for w in current.values()}

    def of(self, results: dict[str, Any], fallback: Workflow) -> Workflow | str:
        """The workflow of a run (its `results` name the version it started on; a run from before versions were
        recorded goes through `fallback`, its tenant's current one), or why there is none."""
        pinned = results.get(WORKFLOW_KEY)
        if not isinstance(pinned, dict):
            return fallback
        version, name = str(pinned.get("version")), str(pinned.get("name"))
        found = self.by_version.get(version)
        if found is not None:
            return found
        definition = self.store.workflow_definition(version)
        if definition is None:
            return f"the workflow {name!r} version {version} this run started on is gone (not in the store)"
        try:
            found = parse_workflow(definition, self.manifests, where=f"workflow {name!r} version {version}")
        except ConfigError as exc:
            return f"the workflow {name!r} version {version} this run started on no longer loads: {exc.message}"
        self.by_version[version] = found
        return found
