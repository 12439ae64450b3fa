"""The working-day calendar: Chinese holidays and 调休 weekends, refusal past the years it knows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from review.workdays import (
    CalendarNotCovered,
    DeadlineInPast,
    add_working_days,
    check_given_deadline,
    covered_years,
    is_working_day,
    today_china,
)


def test_national_day_week_is_skipped_and_the_makeup_saturday_counts() -> None:
    # 2025: 10月1日–8日 off; Sunday 28 September and Saturday 11 October worked (调休)
    assert not is_working_day(date(2025, 10, 3))
    assert is_working_day(date(2025, 9, 28))
    assert is_working_day(date(2025, 10, 11))
    # delivered Tuesday 30 September: 9, 10, 11 (Saturday, worked), 13, 14, 15, 16 October
    assert add_working_days(date(2025, 9, 30), 7) == date(2025, 10, 16)


def test_plain_weeks() -> None:
    assert add_working_days(date(2026, 12, 2), 7) == date(2026, 12, 11)  # Wednesday → the Friday after next
    assert add_working_days(date(2026, 12, 4), 1) == date(2026, 12, 7)  # Friday → Monday


def test_spring_festival_2026() -> None:
    # 2026 春节: 15–23 February off, Saturday 14 and Saturday 28 February worked
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)


def test_past_the_calendar_is_refused_not_guessed() -> None:
    first, last = covered_years()
    assert first <= 2025 <= last
    with pytest.raises(CalendarNotCovered, match=f"knows the holidays of {first}–{last} only, not {last + 1}"):
        add_working_days(date(last, 12, 28), 7)
    with pytest.raises(CalendarNotCovered, match="give the deadline by hand"):
        is_working_day(date(last + 1, 1, 4))


def test_today_is_china_time() -> None:
    assert today_china(datetime(2026, 12, 2, 16, 30, tzinfo=UTC)) == date(2026, 12, 3)
    assert today_china(datetime(2026, 12, 2, 15, 59, tzinfo=UTC)) == date(2026, 12, 2)


def test_a_deadline_given_by_hand() -> None:
    today = date(2026, 12, 2)
    assert check_given_deadline("2026-12-02", today=today) == today
    with pytest.raises(DeadlineInPast, match="the deadline 2026-12-01 is already past"):
        check_given_deadline("2026-12-01", today=today)
    with pytest.raises(DeadlineInPast, match="is not a date: write the deadline as YYYY-MM-DD"):
        check_given_deadline("12/20", today=today)
