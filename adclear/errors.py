"""The error tree is ``core.errors``; this name stays for code written before it moved and still in flight
(adclear/cli/model_cmds.py). New code imports ``core.errors``."""

from core.errors import *  # noqa: F403
from core.errors import __all__  # noqa: F401
