"""Arrival deadlines (policy 3.2, 4.1) as plain functions."""
from datetime import datetime, timedelta, timezone

import pytest

from fieldservice.services.deadlines import arrival_deadline, deadline_state, split_duration

HOURS = {"urgent": 4, "high": 24, "normal": 48, "low": 72}
T0 = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("priority, hours", HOURS.items())
def test_deadline_follows_the_priority(priority, hours):
    assert arrival_deadline(T0, priority, HOURS) == T0 + timedelta(hours=hours)


def test_unknown_priority_is_refused():
    with pytest.raises(ValueError):
        arrival_deadline(T0, "whenever", HOURS)


def test_deadline_turns_amber_in_the_last_quarter_and_red_when_past():
    deadline = T0 + timedelta(hours=4)
    state = lambda now: deadline_state(T0, deadline, now, 0.25).state  # noqa: E731
    assert state(T0 + timedelta(hours=2, minutes=59)) == "ok"
    assert state(T0 + timedelta(hours=3, minutes=1)) == "warning"
    assert state(deadline) == "warning"
    assert state(deadline + timedelta(seconds=1)) == "overdue"


def test_check_in_settles_the_deadline_as_met_or_missed():
    deadline = T0 + timedelta(hours=4)
    later = T0 + timedelta(days=3)
    met = deadline_state(T0, deadline, later, 0.25, checked_in_dt=deadline - timedelta(minutes=1))
    missed = deadline_state(T0, deadline, later, 0.25, checked_in_dt=deadline + timedelta(minutes=1))
    assert (met.state, missed.state) == ("met", "missed")
    assert missed.seconds_left == -60


def test_time_left_splits_into_days_hours_minutes():
    assert split_duration(-(2 * 86400 + 3 * 3600 + 5 * 60 + 59)) == (2, 3, 5)
