"""Times: stored in UTC as ISO 8601, shown in Asia/Shanghai."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

__all__ = ["SHANGHAI", "day_start_utc", "local", "now_utc", "parse_local"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now_utc() -> str:
    """The current time as stored in the database: UTC, ISO 8601, microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def day_start_utc(day: date) -> str:
    """The stored UTC time at which ``day`` begins in Asia/Shanghai (a day filter's bound)."""
    return datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(UTC).isoformat(timespec="microseconds")


def local(stamp: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time shown in Asia/Shanghai ('' for None)."""
    if not stamp:
        return ""
    dt = datetime.fromisoformat(stamp)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(SHANGHAI).strftime(fmt)


_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
)
# The commonest of _FORMATS without strptime (two failed strptime calls cost more per crawled ad than
# extracting its text): 2026-11-25 16:00[:00], 2026/11/25 16:00, 2026年11月25日 16:00, with or without the time.
_COMMON = re.compile(
    r"(\d{4})(?:-(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?"
    r"|/(\d{1,2})/(\d{1,2})(?:\s+(\d{1,2}):(\d{1,2}))?"
    r"|年(\d{1,2})月(\d{1,2})日(?:\s+(\d{1,2}):(\d{1,2}))?)"
)


def parse_local(text: str) -> str | None:
    """A time as a Chinese site prints it (Asia/Shanghai) → stored UTC, or None when it cannot be read."""
    text = text.strip()
    m = _COMMON.fullmatch(text)
    if m is not None:
        year, *rest = m.groups()
        parts = next(rest[i : i + n] for i, n in ((0, 5), (5, 4), (9, 4)) if rest[i] is not None)
        try:
            dt = datetime(int(year), *(int(p) for p in parts if p is not None))  # type: ignore[arg-type]  # year, month, day[, h, m, s]
        except ValueError:
            return None  # a day or hour out of range: strptime refuses it too
        return _stored(dt)
    return _by_strptime(text)


def _by_strptime(text: str) -> str | None:
    """parse_local the slow way: ``strptime`` with each of _FORMATS (what the fast path must agree with)."""
    for fmt in _FORMATS:
        try:
            return _stored(datetime.strptime(text.strip(), fmt))
        except ValueError:
            continue
    return None


def _stored(dt: datetime) -> str:
    """A naive Asia/Shanghai time as stored: UTC, ISO 8601, seconds."""
    return dt.replace(tzinfo=SHANGHAI).astimezone(UTC).isoformat(timespec="seconds")
