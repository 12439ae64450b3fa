"""Loading the classifier the way every part of adclear does: a rule pack and the model in use."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from adclear.errors import AdclearError

__all__ = ["RulesInvalid", "classifier_for", "load_classifier"]


class RulesInvalid(AdclearError):
    """A rule pack does not load; the message names the file, the rule and the problem."""


@lru_cache(maxsize=8)
def load_classifier(rules_dir: Path | None = None, model: Path | bool = True, model_problem: str = "") -> Any:
    """A ``classifier.Classifier`` for ``rules_dir`` (None: the bundled packs) and ``model`` (True: the bundled
    model, a path, or False for the rules alone), loaded once per process. ``model_problem``: why the model
    that should be used cannot be (the classifier then uses the rules alone and says so in every verdict)."""
    from classifier import Classifier, RulePackError
    from classifier.rules import DEFAULT_RULES_DIR, load_rule_pack

    try:
        pack = load_rule_pack(rules_dir or DEFAULT_RULES_DIR)
    except RulePackError as e:
        raise RulesInvalid(str(e)) from None
    if model_problem:
        return Classifier(pack, None, model_problem)
    if rules_dir is None and model is True:
        return Classifier.default()
    return Classifier.with_model(pack, model)


def classifier_for(db: Any, rules_dir: Path | None = None) -> Any:
    """The classifier with the model the ledger says is in use (``adclear.models.active_model``)."""
    from adclear.models import active_model

    active = active_model(db)
    if active.problem:
        return load_classifier(rules_dir, False, active.problem)
    return load_classifier(rules_dir, active.path or True)
