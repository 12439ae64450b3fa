"""The database is ``core.db``; this name stays for code written before it moved and still in flight
(tests/test_model_promotion.py). New code imports ``core.db``."""

from core.db import *  # noqa: F403
from core.db import __all__  # noqa: F401
