"""``python -m tests.clock WHEN adclear-args…``: adclear run with its clock moved to WHEN (UTC ISO 8601).

The injected clock is ``core.timeutil.now_utc``, the one every stored time comes from (runs, pages, sightings,
verdicts, ledger entries), replaced before any module of ours imports it; it keeps ticking from WHEN. Tests use
it to put crawls and decisions in weeks of their choosing.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import core.timeutil


def _shifted(target: datetime):
    offset = target - datetime.now(UTC)

    def now_utc() -> str:
        return (datetime.now(UTC) + offset).isoformat(timespec="microseconds")

    return now_utc


if __name__ == "__main__":
    core.timeutil.now_utc = _shifted(datetime.fromisoformat(sys.argv[1]))
    from adclear.cli import main  # after the clock is in place: every `from core.timeutil import now_utc` sees it

    sys.argv = ["adclear", *sys.argv[2:]]
    main()
