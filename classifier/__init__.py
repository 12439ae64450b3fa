"""adclear's classifier: normalisation, rule packs and scoring. Pure: text in, ``Verdict`` out.

from classifier import classify
v = classify("保本保息，年化15%，加微信详谈")
v.label, v.categories, v.explain()
"""

from classifier.assessment import Assessment
from classifier.engine import Classifier, __version__, classify, run_rule_tests
from classifier.neighbours import Neighbour, NeighbourSource
from classifier.normalize import Normalized, normalize
from classifier.rules import RulePackError, lint, load_rule_pack
from classifier.taxonomy import CATEGORIES, EXCULPATORY, LEGAL_BASES, REJECT_REASONS, SIGNALS
from classifier.verdict import Hit, Verdict

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
