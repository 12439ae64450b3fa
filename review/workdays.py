"""Working days in China: public holidays and the weekends worked in their place (调休), for takedown deadlines.

The calendar is the ``chinesecalendar`` package, which transcribes each year's 国务院办公厅 notice on holiday
arrangements (published every November or December for the next year) and is released once it is out. It
knows a fixed range of years. An office need not wait for its next release: the notice for a new year can be
written into receivers.yml (``calendar:``, its holidays and the weekends worked), and a year written there is
read from there (``WorkCalendar``). A deadline that would fall in a year neither knows is refused with
``CalendarNotCovered`` rather than guessed from weekends (a guess would be wrong around 元旦 and 春节, exactly
when deadlines matter): write the year into receivers.yml, upgrade the package, or give the deadline by hand.

A deadline is the last day (China time) by which the receiver must have acted: N working days after the
delivery day, the delivery day itself not counted, as 《市场监督管理投诉举报处理暂行办法》 counts 工作日.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import chinese_calendar

from core.errors import AdclearError
from core.timeutil import SHANGHAI

__all__ = [
    "CalendarNotCovered",
    "DeadlineInPast",
    "WorkCalendar",
    "YearDays",
    "add_working_days",
    "check_given_deadline",
    "covered_years",
    "is_working_day",
    "today_china",
]


class CalendarNotCovered(AdclearError):
    """A day past the years the installed working-day calendar knows."""


class DeadlineInPast(AdclearError):
    """A deadline given by hand that is already past."""


@dataclass(frozen=True)
class YearDays:
    """One year as the State Council's notice gives it: the days off (法定节假日 with the days joined to them)
    and the weekend days worked (调休上班)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()


@dataclass(frozen=True)
class WorkCalendar:
    """Years an office wrote down itself (receivers.yml ``calendar:``); other years come from chinesecalendar."""

    years: Mapping[int, YearDays] = field(default_factory=dict)


NO_EXTRA_YEARS = WorkCalendar()


def covered_years() -> tuple[int, int]:
    """The first and last year whose holidays and 调休 the installed ``chinesecalendar`` knows."""
    known = chinese_calendar.constants.holidays
    return min(known).year, max(known).year


def _check_covered(day: date) -> None:
    first, last = covered_years()
    if not first <= day.year <= last:
        raise CalendarNotCovered(
            f"the working-day calendar (chinesecalendar {chinese_calendar.__version__}) knows the holidays of "
            f"{first}–{last} only, not {day.year}: once the State Council's holiday notice for {day.year} is out, "
            f"write its days into receivers.yml (calendar: {day.year}: holidays / workdays, docs/receivers.md) or "
            "upgrade the package (pip install -U chinesecalendar); or give the deadline by hand "
            "(--deadline YYYY-MM-DD)",
            zh=(
                f"工作日历只含 {first}–{last} 年的节假日，不含 {day.year} 年："
                f"请手工填写处置期限，或请管理员在 receivers.yml 中补充 {day.year} 年的节假日"
            ),
        )


def is_working_day(day: date, calendar: WorkCalendar = NO_EXTRA_YEARS) -> bool:
    """Whether ``day`` is a working day in China (调休 weekends included, holidays excluded)."""
    written = calendar.years.get(day.year)
    if written is not None:
        return day in written.workdays or (day.weekday() < 5 and day not in written.holidays)
    _check_covered(day)
    return bool(chinese_calendar.is_workday(day))


def add_working_days(start: date, days: int, calendar: WorkCalendar = NO_EXTRA_YEARS) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself not counted)."""
    if days < 1:
        raise ValueError("a deadline is at least one working day away")
    day, left = start, days
    while left:
        day += timedelta(days=1)
        if is_working_day(day, calendar):
            left -= 1
    return day


def today_china(now: datetime | None = None) -> date:
    """Today's date in China (``now`` defaults to the current time)."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI).date()


def check_given_deadline(text: str, *, today: date) -> date:
    """A deadline typed by an operator (YYYY-MM-DD), refused when it cannot be read or is already past."""
    try:
        given = date.fromisoformat(text.strip())
    except ValueError:
        raise DeadlineInPast(
            f"'{text}' is not a date: write the deadline as YYYY-MM-DD, e.g. 2026-12-18",
            zh=f"“{text}”不是日期：处置期限请写成 YYYY-MM-DD，如 2026-12-18",
        ) from None
    if given < today:
        raise DeadlineInPast(
            f"the deadline {given.isoformat()} is already past (today in China is {today.isoformat()}): "
            "give a day from today on",
            zh=f"处置期限 {given.isoformat()} 已过（今天是 {today.isoformat()}）：请填写今天或以后的日期",
        )
    return given
