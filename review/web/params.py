"""Every parameter a request carries is checked before it reaches a query: a bad one is a 400 with a message.

- Ids in paths (``<id:ad_id>``): 1 … 2⁶³−1, SQLite's integer range, in ASCII digits; anything else is a 400
  ("参数 ad_id 无效"), never an OverflowError from SQLite.
- Numbers in query strings (``?before=``, ``?page=``): ``number(name)``, the same range.
- Dates (``?from=``, ``?to=``): ``day(name)``, YYYY-MM-DD between 2000-01-01 and 2099-12-31 (a queue filter on
  year 1 or 9999 overflowed the time-zone arithmetic).
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, request
from werkzeug.routing import BaseConverter

from review.queue import FIRST_DAY, LAST_DAY, day_in_bounds

__all__ = ["DATE_PARAMS", "FIRST_DAY", "LAST_DAY", "MAX_ID", "IdConverter", "bad", "day", "number"]

MAX_ID = 2**63 - 1
DATE_PARAMS = ("from", "to")  # the query parameters that are dates (the others checked here are numbers)
_DIGITS = re.compile(r"[0-9]{1,19}")


def bad(name: str, message: str = "") -> Any:
    """Stop the request: 400, the page names the parameter and says what it must be (``message``, in the reader's
    language; by default a whole number, or a date for ``DATE_PARAMS``)."""
    abort(400, description=f"param:{name[:40]}" + (f":{message}" if message else ""))


def _as_id(text: str) -> int | None:
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


class IdConverter(BaseConverter):
    """A path segment of digits, as a row id within SQLite's range (else 400, not 404 or 500)."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> int:
        found = _as_id(value)
        if found is None:
            bad("id")
        return found  # type: ignore[return-value]

    def to_url(self, value: Any) -> str:
        return str(int(value))


def number(name: str, *, default: int | None = None) -> int | None:
    """``?name=`` as an id-sized positive number; absent or empty: ``default``; anything else: 400."""
    text = request.args.get(name, "")
    if text == "":
        return default
    found = _as_id(text)
    if found is None:
        bad(name)
    return found


def day(text: str, name: str) -> Any:
    """A YYYY-MM-DD date within the bounds; '' is None; anything else: 400."""
    if text == "":
        return None
    value = day_in_bounds(text) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text) else None
    if value is None:
        bad(name)
    return value
