"""Arrival deadlines (policy 3.2, 4.1): when a technician must be on site, and how close it is."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

OK = "ok"
WARNING = "warning"
OVERDUE = "overdue"
MET = "met"
MISSED = "missed"


def arrival_deadline(logged_dt: datetime, priority: str, hours_by_priority: Mapping[str, int]) -> datetime:
    """The arrival deadline of a request logged at logged_dt with the given priority."""
    try:
        hours = hours_by_priority[priority]
    except KeyError:
        raise ValueError(f"unknown priority {priority!r}") from None
    return logged_dt + timedelta(hours=hours)


@dataclass(frozen=True)
class DeadlineState:
    """How a job stands against its arrival deadline, for display."""

    state: str  # ok | warning | overdue | met | missed
    seconds_left: int  # negative when overdue

    @property
    def is_alert(self) -> bool:
        return self.state in (WARNING, OVERDUE, MISSED)


def deadline_state(
    created_dt: datetime,
    deadline_dt: datetime,
    now: datetime,
    warning_fraction: float,
    checked_in_dt: datetime | None = None,
) -> DeadlineState:
    """Classify a deadline: amber in the last warning_fraction of its window, red once past.

    Once the technician has checked in, the deadline is settled: met or missed.
    """
    if checked_in_dt is not None:
        left = int((deadline_dt - checked_in_dt).total_seconds())
        return DeadlineState(MET if left >= 0 else MISSED, left)
    left = int((deadline_dt - now).total_seconds())
    if left < 0:
        return DeadlineState(OVERDUE, left)
    window = (deadline_dt - created_dt).total_seconds()
    if window <= 0 or left <= window * warning_fraction:
        return DeadlineState(WARNING, left)
    return DeadlineState(OK, left)


def split_duration(seconds: int) -> tuple[int, int, int]:
    """Days, hours and minutes of an absolute duration in seconds."""
    minutes = abs(seconds) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return days, hours, minutes
