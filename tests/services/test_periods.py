"""ISO weeks and quarters in the centre's time zone (policy 3.10, 4, 5)."""
from datetime import date, datetime, timezone

import pytest

from fieldservice.services.periods import (PeriodError, iso_week, quarter, quarter_name, shift_quarter,
                                           shift_week, week_name)

SHANGHAI = "Asia/Shanghai"


def test_iso_week_runs_monday_to_sunday_in_the_centre_zone():
    week = iso_week("2026-W48", SHANGHAI)
    assert (week.first_day, week.last_day) == (date(2026, 11, 23), date(2026, 11, 29))
    # Monday 00:00 in Shanghai is Sunday 16:00 UTC.
    assert week.start_dt == datetime(2026, 11, 22, 16, tzinfo=timezone.utc)
    assert week.end_dt == datetime(2026, 11, 29, 16, tzinfo=timezone.utc)
    assert week.contains(datetime(2026, 11, 22, 16, tzinfo=timezone.utc))
    assert not week.contains(datetime(2026, 11, 22, 15, 59, 59, tzinfo=timezone.utc))
    assert not week.contains(week.end_dt)


def test_week_of_a_moment_is_read_in_the_centre_zone():
    late_sunday_utc = datetime(2026, 11, 29, 17, tzinfo=timezone.utc)  # Monday 01:00 in Shanghai
    assert week_name(late_sunday_utc, SHANGHAI) == "2026-W49"
    assert week_name(late_sunday_utc, "UTC") == "2026-W48"
    assert week_name(date(2027, 1, 1)) == "2026-W53"  # 2026 has 53 ISO weeks


def test_shift_week_crosses_years():
    assert shift_week("2026-W53", 1) == "2027-W01"
    assert shift_week("2027-W01", -1) == "2026-W53"


@pytest.mark.parametrize("bad", ["", "2026-48", "2026-W00", "2025-W53", "2026-W54", "W48", "2026-w48"])
def test_badly_written_weeks_are_refused(bad):
    with pytest.raises(PeriodError):
        iso_week(bad, "UTC")


def test_quarter_bounds_and_edges():
    q4 = quarter("2026-Q4", SHANGHAI)
    assert (q4.first_day, q4.last_day) == (date(2026, 10, 1), date(2026, 12, 31))
    assert q4.start_dt == datetime(2026, 9, 30, 16, tzinfo=timezone.utc)
    assert q4.end_dt == datetime(2026, 12, 31, 16, tzinfo=timezone.utc)
    # 23:59 on 31 December in Shanghai is still Q4; one minute later is Q1 of the next year.
    assert quarter_name(datetime(2026, 12, 31, 15, 59, tzinfo=timezone.utc), SHANGHAI) == "2026-Q4"
    assert quarter_name(datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc), SHANGHAI) == "2027-Q1"
    assert quarter("2026-Q1", "UTC").last_day == date(2026, 3, 31)


def test_shift_quarter_crosses_years():
    assert shift_quarter("2026-Q4", 1) == "2027-Q1"
    assert shift_quarter("2026-Q1", -1) == "2025-Q4"
    assert shift_quarter("2026-Q2", -5) == "2025-Q1"


@pytest.mark.parametrize("bad", ["2026-Q0", "2026-Q5", "2026Q1", "Q1"])
def test_badly_written_quarters_are_refused(bad):
    with pytest.raises(PeriodError):
        quarter(bad, "UTC")
