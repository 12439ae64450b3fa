"""Times: stored in UTC as ISO 8601, shown in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

__all__ = ["SHANGHAI", "local", "now_utc", "parse_local"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now_utc() -> str:
    """The current time as stored in the database: UTC, ISO 8601, microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def local(stamp: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time shown in Asia/Shanghai ('' for None)."""
    if not stamp:
        return ""
    dt = datetime.fromisoformat(stamp)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(SHANGHAI).strftime(fmt)


def parse_local(text: str) -> str | None:
    """A time as a Chinese site prints it (Asia/Shanghai) → stored UTC, or None when it cannot be read."""
    text = text.strip()
    for fmt in (
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d",
        "%Y/%m/%d %H:%M",
        "%Y/%m/%d",
        "%Y年%m月%d日 %H:%M",
        "%Y年%m月%d日",
    ):
        try:
            dt = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return dt.replace(tzinfo=SHANGHAI).astimezone(UTC).isoformat(timespec="seconds")
    return None
