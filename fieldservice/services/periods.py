"""ISO weeks (the weekly summary, policy 3.10) and quarters (penalties and rewards, policy 4, 5).

Periods are calendar periods in the service centre's time zone (config TIMEZONE); the functions
return aware UTC datetimes [start, end) to compare with stored times.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


class PeriodError(ValueError):
    """A week or quarter written wrongly (e.g. 2026-W54, 2026-Q5)."""


def _zone(tz: str | ZoneInfo | None) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    if tz is None:
        from flask import current_app

        tz = current_app.config["TIMEZONE"]
    return ZoneInfo(tz)


def _local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(timezone.utc)


@dataclass(frozen=True)
class Period:
    """A named period and its bounds: start inclusive, end exclusive, both aware UTC."""

    name: str
    first_day: date
    last_day: date
    start_dt: datetime
    end_dt: datetime

    def contains(self, when: datetime) -> bool:
        return self.start_dt <= when < self.end_dt


def iso_week(name: str, tz: str | ZoneInfo | None = None) -> Period:
    """The ISO week '2026-W48' (Monday to Sunday) in the centre's time zone."""
    match = _WEEK.match(name or "")
    if not match:
        raise PeriodError(name)
    year, week = int(match.group(1)), int(match.group(2))
    try:
        first = date.fromisocalendar(year, week, 1)
    except ValueError as error:  # week 53 of a 52-week year, week 0
        raise PeriodError(name) from error
    zone = _zone(tz)
    last = first + timedelta(days=6)
    return Period(name, first, last, _local_midnight_utc(first, zone),
                  _local_midnight_utc(last + timedelta(days=1), zone))


def week_name(when: datetime | date, tz: str | ZoneInfo | None = None) -> str:
    """The ISO week a moment (seen in the centre's zone) or a day falls in, e.g. '2026-W48'."""
    day = when.astimezone(_zone(tz)).date() if isinstance(when, datetime) else when
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def shift_week(name: str, weeks: int) -> str:
    """The week `weeks` after (or before, when negative) the week `name`."""
    first = iso_week(name, "UTC").first_day
    return week_name(first + timedelta(weeks=weeks))


def quarter(name: str, tz: str | ZoneInfo | None = None) -> Period:
    """The calendar quarter '2026-Q4' (1 October to 31 December) in the centre's time zone."""
    match = _QUARTER.match(name or "")
    if not match:
        raise PeriodError(name)
    year, number = int(match.group(1)), int(match.group(2))
    first = date(year, 3 * number - 2, 1)
    following = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    zone = _zone(tz)
    return Period(name, first, following - timedelta(days=1), _local_midnight_utc(first, zone),
                  _local_midnight_utc(following, zone))


def quarter_name(when: datetime | date, tz: str | ZoneInfo | None = None) -> str:
    """The quarter a moment (seen in the centre's zone) or a day falls in, e.g. '2026-Q4'."""
    day = when.astimezone(_zone(tz)).date() if isinstance(when, datetime) else when
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def shift_quarter(name: str, quarters: int) -> str:
    """The quarter `quarters` after (or before) the quarter `name`."""
    first = quarter(name, "UTC").first_day
    index = first.year * 4 + (first.month - 1) // 3 + quarters
    return f"{index // 4}-Q{index % 4 + 1}"
