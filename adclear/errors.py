"""The error tree is ``core.errors``; this name stays for ``adclear/cli/model_cmds.py``, which imports it."""

from core.errors import *  # noqa: F403
from core.errors import __all__  # noqa: F401
