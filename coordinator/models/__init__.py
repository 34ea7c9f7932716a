"""Model backends for the specialists' judgments, and their registry.

- `backend_names()`, `build_model(name)`: the backends registered in the entry-point group `deskhand.models`
  (`ENTRY_POINT_GROUP`), built by name (`DEFAULT_MODEL` when none is named); the coordinator names a
  backend only through these.
- `OfflineModel` (the default): each judgment's deterministic, policy-driven form. No network.
- `AnthropicModel`: the official `anthropic` SDK, structured outputs, prompt caching, tiers, cost.
- `ScriptedModel`: answers from a script; for tests, yours included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coordinator.models._offline import OfflineModel
from coordinator.models._registry import DEFAULT_MODEL, ENTRY_POINT_GROUP, backend_names, build_model
from coordinator.models._scripted import ScriptedCall, ScriptedModel

if TYPE_CHECKING:
    from coordinator.models._anthropic import DEFAULT_PRICES, AnthropicModel, AnthropicSettings, Price

_ANTHROPIC = ("DEFAULT_PRICES", "AnthropicModel", "AnthropicSettings", "Price")


def __getattr__(name: str) -> Any:
    """The Anthropic backend is imported when first asked for: the `anthropic` SDK takes a second to import."""
    if name in _ANTHROPIC:
        from coordinator.models import _anthropic

        return getattr(_anthropic, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PRICES",
    "ENTRY_POINT_GROUP",
    "AnthropicModel",
    "AnthropicSettings",
    "OfflineModel",
    "Price",
    "ScriptedCall",
    "ScriptedModel",
    "backend_names",
    "build_model",
]
