"""Loading the classifier is ``core.classifiers``; this name stays for ``adclear/cli/model_cmds.py``."""

from core.classifiers import RulesInvalid, classifier_for, load_classifier

__all__ = ["RulesInvalid", "classifier_for", "load_classifier"]
