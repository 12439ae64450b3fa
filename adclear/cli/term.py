"""Text for the terminal: crawled text is hostile, so control characters are shown, never sent as such.

An ad's title or body can carry escape sequences that clear the screen, hide text, set the window title or
write the clipboard (OSC 52), carriage returns that overwrite a line, and bidirectional overrides that reorder
what is shown. ``visible`` writes each such character as an escape a reviewer can read (``\\x1b``, ``\\r``,
``\\u202e``); newlines and tabs stay. Every ``adclear`` command prints through ``echo``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import click

__all__ = ["echo", "fit", "visible"]

# C0 controls but tab and newline, DEL, C1 controls; bidirectional embeddings, overrides and isolates; the
# line and paragraph separators (they move the cursor on some terminals).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x0D:
        return "\\r"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: Any) -> str:
    """``text`` with every control character written as a visible escape."""
    return _CONTROL.sub(_escape, str(text))


def echo(message: Any = "", *, err: bool = False) -> None:
    """``click.echo`` of ``message`` made visible."""
    click.echo(visible(message), err=err)


def fit(text: str, width: int) -> str:
    """``text`` padded to a display width, counting CJK characters as two columns."""
    cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - cols)
