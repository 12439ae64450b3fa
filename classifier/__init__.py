"""adclear's classifier: normalisation, rule packs and scoring. Pure: text in, ``Verdict`` out.

from classifier import classify
v = classify("保本保息，年化15%，加微信详谈")
v.label, v.categories, v.explain()

The names below are loaded from their modules when first asked for (PEP 562), not when the package is: importing
any module of the package runs this file first, and every command opens its database through the migrations,
which need ``classifier.normalize`` alone (loaded here as it was: ``classifier.normalize`` is the function).
Loading the engine here cost each of them the rule engine, the model and the near-duplicate index (35 ms) before
it could start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from classifier.normalize import Normalized, normalize

if TYPE_CHECKING:
    from classifier.assessment import Assessment
    from classifier.engine import Classifier, __version__, classify, run_rule_tests
    from classifier.neighbours import Neighbour, NeighbourSource
    from classifier.rules import RulePackError, lint, load_rule_pack
    from classifier.taxonomy import CATEGORIES, EXCULPATORY, LEGAL_BASES, REJECT_REASONS, SIGNALS
    from classifier.verdict import Hit, Verdict

_MODULES = {
    "assessment": ("Assessment",),
    "engine": ("Classifier", "__version__", "classify", "run_rule_tests"),
    "neighbours": ("Neighbour", "NeighbourSource"),
    "rules": ("RulePackError", "lint", "load_rule_pack"),
    "taxonomy": ("CATEGORIES", "EXCULPATORY", "LEGAL_BASES", "REJECT_REASONS", "SIGNALS"),
    "verdict": ("Hit", "Verdict"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "CATEGORIES",
    "EXCULPATORY",
    "LEGAL_BASES",
    "REJECT_REASONS",
    "SIGNALS",
    "Assessment",
    "Classifier",
    "Hit",
    "Neighbour",
    "NeighbourSource",
    "Normalized",
    "RulePackError",
    "Verdict",
    "__version__",
    "classify",
    "lint",
    "load_rule_pack",
    "normalize",
    "run_rule_tests",
]


def __getattr__(name: str) -> Any:
    """A name of ``__all__``, from its module (kept here once loaded); a submodule is imported by Python itself."""
    if name not in _WHERE:
        raise AttributeError(f"module 'classifier' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"classifier.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
