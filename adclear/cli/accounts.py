"""Who acts on the command line: ``--as``, else ``$ADCLEAR_USER``, else the login name.

A module of its own so that the commands that record who acted (stats' campaigns, takedowns, dispatch, tips,
exports, models, re-checks) need not load the review commands' module, and with it the classifier and the
pictures' reader, to start.
"""

from __future__ import annotations

import getpass

import sqlite_utils

from adclear.config import environment_user
from review import users

__all__ = ["acting_account"]


def acting_account(db: sqlite_utils.Database, name: str | None, role: str = "reviewer") -> str:
    """The account deciding: ``--as``, else ``$ADCLEAR_USER``, else the login name; it must exist, be active and
    hold ``role`` (scripts set ``$ADCLEAR_USER`` or pass ``--as``)."""
    return users.require(db, name or environment_user() or getpass.getuser(), role).name
