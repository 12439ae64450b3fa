"""Reclassification is ``core.reclassify``; this name stays for code written before it moved and still in
flight (tests/test_model_promotion.py). New code imports ``core.reclassify``."""

from core.reclassify import *  # noqa: F403
from core.reclassify import __all__  # noqa: F401
