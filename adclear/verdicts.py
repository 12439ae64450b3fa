"""Verdict storage is ``core.verdicts``; this name stays for code written before it moved and still in flight
(tests/test_model_promotion.py). New code imports ``core.verdicts``."""

from core.verdicts import *  # noqa: F403
from core.verdicts import __all__  # noqa: F401
