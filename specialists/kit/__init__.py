"""The specialist kit: what a specialist is, what it runs with, and the protocols it relies on.

- `Specialist`, `Manifest`, `SpecialistContext`, `ENTRY_POINT_GROUP`: write a specialist.
- `Model`, `Judgment`, `Generation`, `Usage`, `Tier`: ask a model for structured judgment (`In`, `Out`: the
  type variables of a judgment's input and output, for a model backend's signature).
- `Toolbox`, `WrapperToolbox`, `ScopedToolbox`, `call`, `call_or_none`, `gather`: reach MCP tools, typed, within the
  manifest's scopes (`call_or_none`: None for `not_found`; `gather`: independent calls at once).
- `Budget`: what a run may still spend.
- `own_lines`, `unsigned`, `before_sign_off`, `disowned_subject`, `without_disowned`: the customer's own lines of an
  email, its text without the signature (or only without the sign-off and what follows it), its body without the
  sentences that disown its subject, and without the clauses that say what it is not about
- `tokens`, `words`, `stem`, `root`, `roots`, `injection_signals`, `normalise`, `plain`, `reveal`, `Hidden`,
  `without_instructions`: text helpers for offline judgments and for seeing through text hidden from the reader
  (`root`, `roots`: words as a keyword matches them).

Imports only `schemas`. Model backends and the MCP toolbox live in the coordinator.
"""

from specialists.kit._budget import Budget
from specialists.kit._mail import before_sign_off, disowned_subject, own_lines, unsigned, without_disowned
from specialists.kit._model import Generation, In, Judgment, Model, Out, Tier, Usage
from specialists.kit._specialist import ENTRY_POINT_GROUP, Manifest, Specialist, SpecialistContext, estimate_tokens
from specialists.kit._text import (
    Hidden,
    injection_signals,
    normalise,
    plain,
    reveal,
    root,
    roots,
    stem,
    tokens,
    without_instructions,
    words,
)
from specialists.kit._toolbox import ScopedToolbox, Toolbox, WrapperToolbox, call, call_or_none, gather

__all__ = [
    "ENTRY_POINT_GROUP",
    "Budget",
    "Generation",
    "Hidden",
    "In",
    "Judgment",
    "Manifest",
    "Model",
    "Out",
    "ScopedToolbox",
    "Specialist",
    "SpecialistContext",
    "Tier",
    "Toolbox",
    "Usage",
    "WrapperToolbox",
    "call",
    "call_or_none",
    "estimate_tokens",
    "gather",
    "injection_signals",
    "normalise",
    "plain",
    "reveal",
    "root",
    "roots",
    "stem",
    "tokens",
    "before_sign_off",
    "disowned_subject",
    "own_lines",
    "unsigned",
    "without_disowned",
    "without_instructions",
    "words",
]
