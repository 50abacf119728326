"""Report periods: which local days a weekly or monthly report covers, and when a scheduled
report is due.

Days are local days in the report's time zone (``reports.timezone``), so a Shanghai team's
week runs Monday 00:00 to Sunday 24:00 China time, not UTC.

    week = Period.week(date(2026, 11, 22), ZoneInfo("Asia/Shanghai"))   # Mon 16th .. Sun 22nd
    week.start, week.end          # aware UTC: [2026-11-15 16:00, 2026-11-22 16:00)
    week.previous()               # the week before, for the trend
    due_period("week", schedule, now, tz)   # (due time, the period it reports) or None
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from monitor.errors import BrandPulseError
from monitor.settings_reports import WEEKDAYS, ReportSchedule

Kind = Literal["week", "month"]
KINDS: tuple[Kind, ...] = ("week", "month")


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


@dataclass(frozen=True)
class Period:
    """The local days [first_day, last_day] (both included) of one report."""

    kind: Kind
    first_day: date
    last_day: date
    tz: ZoneInfo

    @classmethod
    def week(cls, last_day: date, tz: ZoneInfo) -> Period:
        return cls("week", last_day - timedelta(days=6), last_day, tz)

    @classmethod
    def month(cls, last_day: date, tz: ZoneInfo) -> Period:
        """From the first of ``last_day``'s month to ``last_day`` (the whole month when it is the last)."""
        return cls("month", last_day.replace(day=1), last_day, tz)

    @classmethod
    def of(cls, kind: str, end: date | None, today: date, tz: ZoneInfo) -> Period:
        """``--period KIND --end END``; without END the last complete week (Mon-Sun) or month before ``today``."""
        if kind not in KINDS:
            raise BrandPulseError(f"report period must be 'week' or 'month', got {kind!r}")
        if kind == "week":
            return cls.week(end if end is not None else today - timedelta(days=today.weekday() + 1), tz)
        return cls.month(end if end is not None else today.replace(day=1) - timedelta(days=1), tz)

    @property
    def start(self) -> datetime:
        return _midnight(self.first_day, self.tz)

    @property
    def end(self) -> datetime:
        return _midnight(self.last_day + timedelta(days=1), self.tz)

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range((self.last_day - self.first_day).days + 1)]

    @property
    def whole_month(self) -> bool:
        return self.kind == "month" and self.last_day == _month_end(self.last_day)

    def previous(self) -> Period:
        """The period before, of the same length: the week before, or the same span of the previous month."""
        if self.kind == "week":
            return Period.week(self.first_day - timedelta(days=1), self.tz)
        prev_last_of_month = self.first_day - timedelta(days=1)
        if self.whole_month:
            return Period.month(prev_last_of_month, self.tz)
        span = (self.last_day - self.first_day).days
        first = prev_last_of_month.replace(day=1)
        return Period("month", first, min(first + timedelta(days=span), prev_last_of_month), self.tz)

    def local_day(self, when: datetime) -> date:
        return when.astimezone(self.tz).date()

    @property
    def label(self) -> str:
        if self.whole_month:
            return f"{self.first_day:%Y-%m}"
        return f"{self.first_day:%Y-%m-%d} – {self.last_day:%Y-%m-%d}"

    @property
    def slug(self) -> str:
        """For file names and links: ``week-2026-11-22``, ``month-2026-10-31``."""
        return f"{self.kind}-{self.last_day:%Y-%m-%d}"


def parse_end(value: str | None, today: date) -> date | None:
    """``--end``: an ISO date (2026-11-22), ``today`` or ``yesterday``; None stays None."""
    if value is None or value == "":
        return None
    v = value.strip().lower()
    if v == "today":
        return today
    if v == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(v)
    except ValueError:
        raise BrandPulseError(
            f"end: expected a date such as 2026-11-22, 'today' or 'yesterday', got {value!r}") from None


def due_period(kind: Kind, schedule: ReportSchedule, now: datetime, tz: ZoneInfo) -> tuple[datetime, Period]:
    """The most recent time at or before ``now`` the schedule fires, and the period that send reports.

    Weekly on ``day`` at ``at``: the seven days before that day (``mon`` -> the Mon-Sun week
    just ended). Monthly on day N at ``at``: the whole calendar month before.
    """
    local_now = now.astimezone(tz)
    hour, minute = schedule.hour_minute
    if kind == "week":
        back = (local_now.weekday() - WEEKDAYS.index(schedule.day)) % 7
        day = local_now.date() - timedelta(days=back)
        if _at(day, hour, minute, tz) > now:
            day -= timedelta(days=7)
        return _at(day, hour, minute, tz), Period.week(day - timedelta(days=1), tz)
    n = int(schedule.day)
    day = local_now.date().replace(day=n)
    if _at(day, hour, minute, tz) > now:
        day = (day.replace(day=1) - timedelta(days=1)).replace(day=n)
    return _at(day, hour, minute, tz), Period.month(day.replace(day=1) - timedelta(days=1), tz)


def _at(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)
