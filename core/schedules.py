"""Schedules: when a site is crawled, and when open takedowns are re-checked.

A schedule is written in seeds.yml (docs/seeds.md) in one of two ways, both in China time (Asia/Shanghai):

- a cron expression of five fields, ``minute hour day-of-month month day-of-week`` (``0 */6 * * *``: at 00:00,
  06:00, 12:00 and 18:00), or one of ``@hourly``, ``@daily``, ``@weekly``, ``@monthly``; read by croniter;
- an interval: ``every 6h``, ``30m``, ``1d 12h`` (units ``d``, ``h``, ``m``; at least ``MIN_INTERVAL``).

``parse`` turns the text into a ``Schedule`` or raises ``ValueError`` with the fix, which seeds.yml's loader
reports with the file's line. ``Schedule.next_after(t)`` is the first time the schedule names after ``t``
(aware datetimes in, aware UTC out); ``Schedule.due_after(last, now)`` is when a job whose last start was
``last`` is due, counted so that runs missed while nothing was running come out as one run due at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter  # type: ignore[import-untyped]
from croniter.croniter import CroniterError  # type: ignore[import-untyped]

from core.timeutil import SHANGHAI

__all__ = ["MIN_INTERVAL", "Schedule", "check_schedule", "parse"]

MIN_INTERVAL = timedelta(minutes=1)  # a site crawled more often than this is hammered, not monitored
_UNITS = {"d": 86400, "h": 3600, "m": 60}
_INTERVAL = re.compile(r"(?:every\s+)?((?:\d+\s*[dhm]\s*)+)", re.IGNORECASE)
_PART = re.compile(r"(\d+)\s*([dhm])", re.IGNORECASE)
_ALIASES = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")
_EXAMPLES = "write five cron fields, minute hour day month weekday (e.g. '0 */6 * * *'), or an interval ('every 6h')"


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: ``cron`` (an expression croniter reads) or ``every`` (an interval), never both."""

    text: str
    cron: str = ""
    every: timedelta | None = None

    def next_after(self, moment: datetime) -> datetime:
        """The first time after ``moment`` this schedule names (UTC)."""
        if self.every is not None:
            return (moment + self.every).astimezone(UTC)
        local = moment.astimezone(SHANGHAI)
        found: datetime = croniter(self.cron, local).get_next(datetime)
        return found.astimezone(UTC)

    def due_after(self, last_start: datetime | None, now: datetime) -> datetime:
        """When a job last started at ``last_start`` (None: never) is due next, as seen at ``now``.

        An interval is counted from the last start, a cron expression names the first slot after it; a job
        never run is due at once on an interval and at the next slot on cron. A time that is already past
        (runs missed while the scheduler was down) is returned as it is: the caller runs the job once, then
        asks ``next_after(now)``, so that any number of missed slots make one run.
        """
        if last_start is None:
            return now if self.every is not None else self.next_after(now)
        return self.next_after(last_start)

    def missed(self, due: datetime, now: datetime, limit: int = 1000) -> int:
        """How many of this schedule's times fell in ``[due, now]`` (at most ``limit``): runs made one."""
        count, moment = 0, due
        while moment <= now and count < limit:
            count += 1
            moment = self.next_after(moment)
        return count

    def describe(self) -> str:
        """The schedule as seeds.yml wrote it, with its kind: ``cron 0 */6 * * *`` or ``every 6h``."""
        if self.every is not None:
            return f"every {_interval_text(self.every)}"
        return f"cron {self.cron}"


def _interval_text(every: timedelta) -> str:
    seconds = int(every.total_seconds())
    parts = []
    for unit, size in _UNITS.items():
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts) or "0m"


def parse(text: str) -> Schedule:
    """A schedule from seeds.yml's text; ``ValueError`` naming what is wrong and how to write it."""
    text = " ".join(str(text).split())
    if not text:
        raise ValueError(f"a schedule may not be empty: {_EXAMPLES}")
    m = _INTERVAL.fullmatch(text)
    if m is not None:
        seconds = sum(int(n) * _UNITS[u.lower()] for n, u in _PART.findall(m.group(1)))
        every = timedelta(seconds=seconds)
        if every < MIN_INTERVAL:
            shortest = _interval_text(MIN_INTERVAL)
            raise ValueError(f"'{text}' is shorter than {shortest}: crawl a site at most once a minute")
        return Schedule(text=text, every=every)
    if text.lower().startswith("every"):
        raise ValueError(f"'{text}' is not an interval: write a number and a unit d, h or m, e.g. 'every 6h', '90m'")
    return Schedule(text=text, cron=_check_cron(text))


def _check_cron(text: str) -> str:
    if text.startswith("@"):
        if text.lower() not in _ALIASES:
            raise ValueError(f"'{text}' is not a cron alias: use one of {', '.join(_ALIASES)}, or five fields")
        return text.lower()
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"'{text}' has {len(fields)} field{'s' if len(fields) != 1 else ''}, not a schedule: {_EXAMPLES}"
        )
    try:
        croniter(text, datetime(2026, 1, 1, tzinfo=SHANGHAI)).get_next(datetime)
    except (CroniterError, ValueError, KeyError) as e:
        raise ValueError(f"'{text}' is not a valid cron expression ({e}): {_EXAMPLES}") from None
    return text


def check_schedule(text: str) -> str:
    """seeds.yml's check of a schedule: the text, tidied, when it parses; ``ValueError`` otherwise."""
    return parse(text).text
