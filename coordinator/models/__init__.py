"""Model backends for the specialists' judgments.

- `OfflineModel` (the default): each judgment's deterministic, policy-driven form. No network.
- `AnthropicModel`: the official `anthropic` SDK, structured outputs, prompt caching, tiers, cost.
- `ScriptedModel`: answers from a script; for tests, yours included.
"""

from coordinator.models._anthropic import DEFAULT_PRICES, AnthropicModel, AnthropicSettings, Price
from coordinator.models._offline import OfflineModel
from coordinator.models._scripted import ScriptedCall, ScriptedModel

__all__ = [
    "DEFAULT_PRICES",
    "AnthropicModel",
    "AnthropicSettings",
    "OfflineModel",
    "Price",
    "ScriptedCall",
    "ScriptedModel",
]
