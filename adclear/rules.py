"""Loading the classifier the way every part of adclear does: bundled rule packs, or a directory given."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from adclear.errors import AdclearError

__all__ = ["RulesInvalid", "load_classifier"]


class RulesInvalid(AdclearError):
    """A rule pack does not load; the message names the file, the rule and the problem."""


@lru_cache(maxsize=4)
def load_classifier(rules_dir: Path | None = None) -> Any:
    """A ``classifier.Classifier`` for ``rules_dir`` (None: the bundled packs), loaded once per process."""
    from classifier import Classifier, RulePackError

    try:
        return Classifier.default() if rules_dir is None else Classifier.from_directory(rules_dir)
    except RulePackError as e:
        raise RulesInvalid(str(e)) from None
