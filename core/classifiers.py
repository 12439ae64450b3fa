"""Loading the classifier the way every part of adclear does: a rule pack and the model in use.

The model in use is the one the ledger names (``core.models.active_model``); a rule pack that does not load is
a ``RulesInvalid`` naming the file, the rule and the problem.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import sqlite_utils

from classifier import Classifier, RulePackError
from classifier.rules import DEFAULT_RULES_DIR, load_rule_pack
from core.errors import RulesInvalid
from core.models import ActiveModel, active_model

__all__ = ["RulesInvalid", "classifier_for", "load_classifier"]


@lru_cache(maxsize=8)
def load_classifier(rules_dir: Path | None = None, model: Path | bool = True, model_problem: str = "") -> Classifier:
    """A ``classifier.Classifier`` for ``rules_dir`` (None: the bundled packs) and ``model`` (True: the bundled
    model, a path, or False for the rules alone), loaded once per process. ``model_problem``: why the model
    that should be used cannot be (the classifier then uses the rules alone and says so in every verdict)."""
    try:
        pack = load_rule_pack(rules_dir or DEFAULT_RULES_DIR)
    except RulePackError as e:
        raise RulesInvalid(str(e), zh=f"规则包无法加载，请管理员检查规则文件：{e}") from None
    if model_problem:
        return Classifier(pack, None, model_problem)
    if rules_dir is None and model is True:
        return Classifier.default()
    return Classifier.with_model(pack, model)


def classifier_for(
    db: sqlite_utils.Database, rules_dir: Path | None = None, active: ActiveModel | None = None
) -> Classifier:
    """The classifier with the model the ledger says is in use (``core.models.active_model``, or ``active``
    when the caller read it already)."""
    active = active or active_model(db)
    if active.problem:
        return load_classifier(rules_dir, False, active.problem)
    return load_classifier(rules_dir, active.path or True)
