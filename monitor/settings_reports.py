"""The ``reports:`` section of the config: the report time zone and the scheduled weekly/monthly
reports the daemon sends (monitor/reports/schedule.py).

    reports:
      timezone: Asia/Shanghai
      weekly: {day: mon, at: "09:00", notify: [zhang-san, brand-email], brands: [qinghe]}

Kept out of monitor/settings.py (which imports it) so that file stays about the daemon's core.
Which ``notify`` ids exist is only known with the plan and notifiers, so the daemon checks those
when it builds the sender (``brandpulse check-config`` too).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from monitor import defaults
from monitor.clock import parse_duration
from monitor.settings_ops import Strict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class ReportSchedule(Strict):
    """When one kind of report goes out and to whom."""

    day: str  # weekly: mon..sun; monthly: day of the month 1..28 (as a number or a string)
    at: str = defaults.REPORT_SEND_AT  # local time of day "HH:MM" in reports.timezone
    notify: list[str] = Field(min_length=1)  # plan contact ids and/or notifier ids
    brands: list[str] = Field(default_factory=list)  # one report per listed brand; empty = one report on all brands

    @field_validator("day", mode="before")
    @classmethod
    def _day(cls, v: Any) -> str:
        return str(v).strip().lower() if isinstance(v, int | str) and not isinstance(v, bool) else v

    @field_validator("at")
    @classmethod
    def _at(cls, v: str) -> str:
        m = _AT.match(v.strip())
        if not m:
            raise ValueError(f'expected a time of day such as "09:00", got {v!r}')
        return f"{int(m.group(1)):02d}:{m.group(2)}"

    @property
    def hour_minute(self) -> tuple[int, int]:
        h, m = self.at.split(":")
        return int(h), int(m)


class ReportSettings(Strict):
    timezone: str = defaults.REPORT_TIMEZONE  # days, weeks and months of reports are counted in this zone
    language: Literal["zh", "en"] = "zh"  # language of scheduled reports (the CLI and the page take --lang / ?lang=)
    check_interval: float = defaults.REPORT_CHECK_INTERVAL_SECONDS  # how often the daemon looks for a due report
    # a report missed while the daemon was down is still sent this long after its time, not later
    catch_up: float = defaults.REPORT_CATCH_UP_SECONDS
    weekly: ReportSchedule | None = None  # the weekly summary (周报): the seven days before `day`
    monthly: ReportSchedule | None = None  # the monthly report (月报): the calendar month before

    _dur = field_validator("check_interval", "catch_up", mode="before")(lambda cls, v: parse_duration(v))

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as Asia/Shanghai)") from None
        return v

    @field_validator("check_interval", "catch_up")
    @classmethod
    def _positive(cls, v: float) -> float:
        if not isinstance(v, int | float) or v <= 0:
            raise ValueError(f"expected a positive duration such as 1m or 2d, got {v!r}")
        return float(v)

    @model_validator(mode="after")
    def _days(self) -> ReportSettings:
        if self.weekly is not None and self.weekly.day not in WEEKDAYS:
            raise ValueError(f"weekly.day: expected one of {', '.join(WEEKDAYS)}, got {self.weekly.day!r}")
        if self.monthly is not None and not (self.monthly.day.isdigit() and 1 <= int(self.monthly.day) <= 28):
            raise ValueError(f"monthly.day: expected a day of the month from 1 to 28, got {self.monthly.day!r}")
        return self

    def schedules(self) -> list[tuple[Literal["week", "month"], ReportSchedule]]:
        out: list[tuple[Literal["week", "month"], ReportSchedule]] = []
        if self.weekly is not None:
            out.append(("week", self.weekly))
        if self.monthly is not None:
            out.append(("month", self.monthly))
        return out
