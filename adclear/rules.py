"""Loading the classifier is ``core.classifiers``; this name stays for code written before it moved and still in
flight (adclear/cli/model_cmds.py, tests/test_model_promotion.py). New code imports ``core.classifiers``."""

from core.classifiers import RulesInvalid, classifier_for, load_classifier

__all__ = ["RulesInvalid", "classifier_for", "load_classifier"]
