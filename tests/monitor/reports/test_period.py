"""Report periods in local days, and when a schedule fires (pure date arithmetic)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import BrandPulseError
from monitor.reports.period import Period, due_period, parse_end
from monitor.settings_reports import ReportSchedule, ReportSettings

SH = ZoneInfo("Asia/Shanghai")


def test_week_is_seven_local_days() -> None:
    week = Period.week(date(2026, 11, 22), SH)
    assert week.first_day == date(2026, 11, 16) and len(week.days) == 7
    assert week.start == datetime(2026, 11, 15, 16, tzinfo=UTC) and week.end == datetime(2026, 11, 22, 16, tzinfo=UTC)
    assert week.previous() == Period.week(date(2026, 11, 15), SH)
    assert week.slug == "week-2026-11-22" and week.label == "2026-11-16 – 2026-11-22"


def test_default_periods_are_the_last_complete_ones() -> None:
    assert Period.of("week", None, date(2026, 11, 25), SH).last_day == date(2026, 11, 22)  # Wed -> last Sunday
    assert Period.of("week", None, date(2026, 11, 23), SH).last_day == date(2026, 11, 22)  # Monday -> yesterday
    month = Period.of("month", None, date(2026, 3, 5), SH)
    assert (month.first_day, month.last_day, month.whole_month, month.label) == (
        date(2026, 2, 1), date(2026, 2, 28), True, "2026-02")
    assert month.previous() == Period.month(date(2026, 1, 31), SH)
    with pytest.raises(BrandPulseError, match="'week' or 'month'"):
        Period.of("day", None, date(2026, 3, 5), SH)


def test_month_to_date_compares_with_the_same_span() -> None:
    mtd = Period.month(date(2026, 3, 31), SH).previous()
    assert (mtd.first_day, mtd.last_day) == (date(2026, 2, 1), date(2026, 2, 28))
    part = Period.month(date(2026, 3, 15), SH)
    assert not part.whole_month and (part.previous().first_day, part.previous().last_day) == (
        date(2026, 2, 1), date(2026, 2, 15))


def test_a_day_across_a_dst_change_is_a_local_day() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    week = Period.week(date(2026, 3, 29), berlin)  # clocks go forward on Sunday 29 March
    assert (week.end - week.start).total_seconds() == 7 * 86400 - 3600


def test_parse_end() -> None:
    today = date(2026, 11, 25)
    assert parse_end("today", today) == today and parse_end("yesterday", today) == date(2026, 11, 24)
    assert parse_end("2026-11-22", today) == date(2026, 11, 22) and parse_end(None, today) is None
    with pytest.raises(BrandPulseError, match=r"end: expected a date .* got '22/11'"):
        parse_end("22/11", today)


def test_weekly_and_monthly_schedules_fire_on_local_time() -> None:
    weekly = ReportSchedule(day="mon", at="09:00", notify=["x"])
    # Monday 09:00 China time is 01:00 UTC: one second before, last week's send is the latest
    due, period = due_period("week", weekly, datetime(2026, 11, 23, 0, 59, 59, tzinfo=UTC), SH)
    assert due == datetime(2026, 11, 16, 1, tzinfo=UTC) and period.last_day == date(2026, 11, 15)
    due, period = due_period("week", weekly, datetime(2026, 11, 23, 1, 0, tzinfo=UTC), SH)
    assert due == datetime(2026, 11, 23, 1, tzinfo=UTC) and (period.first_day, period.last_day) == (
        date(2026, 11, 16), date(2026, 11, 22))
    monthly = ReportSchedule(day=2, at="8:30", notify=["x"])
    assert monthly.at == "08:30" and monthly.day == "2"
    due, period = due_period("month", monthly, datetime(2026, 12, 1, 12, tzinfo=UTC), SH)
    assert due == datetime(2026, 11, 2, 0, 30, tzinfo=UTC) and period.label == "2026-10"


def test_schedule_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="weekly.day: expected one of mon"):
        ReportSettings.model_validate({"weekly": {"day": "monday", "notify": ["x"]}})
    with pytest.raises(ValueError, match="day of the month from 1 to 28"):
        ReportSettings.model_validate({"monthly": {"day": 31, "notify": ["x"]}})
    with pytest.raises(ValueError, match='time of day such as "09:00"'):
        ReportSchedule(day="mon", at="25:00", notify=["x"])
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        ReportSettings(timezone="Mars/Base")
    assert ReportSettings.model_validate({"catch_up": "1d", "check_interval": "30s"}).catch_up == 86400
