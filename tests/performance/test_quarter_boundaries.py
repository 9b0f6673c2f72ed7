"""Quarters are calendar quarters in the service centre's time zone (policy 4, 5)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fieldservice.blueprints.performance import operations as ops
from tests.performance.conftest import Q3, complaint, keys


def only(candidates, clause):
    return [c for c in candidates if c.clause == clause]


@pytest.fixture
def app_config():
    return {"TIMEZONE": "Asia/Shanghai"}


def test_quarter_boundary_is_midnight_in_the_centres_zone(make, desk, tech):
    """30 September 23:59:59 in Shanghai is still Q3; one second later is Q4."""
    a, b = tech(), tech()
    last_second = datetime(2026, 9, 30, 15, 59, 59, tzinfo=timezone.utc)  # 23:59:59 +08:00
    job_a = make.job("resolved", technician=a)
    job_b = make.job("resolved", technician=b)
    in_q3 = complaint(job_a, "poor_communication", last_second)
    in_q4 = complaint(job_b, "poor_communication", last_second + timedelta(seconds=1))
    now = datetime(2027, 1, 10, tzinfo=timezone.utc)

    q3 = ops.performance_candidates(Q3, now)
    q4 = ops.performance_candidates("2026-Q4", now)
    assert keys(only(q3, "4.2")) == {f"4.2:complaint:{in_q3.id}"}
    assert keys(only(q4, "4.2")) == {f"4.2:complaint:{in_q4.id}"}
    # 5.1: a complained in Q3 only, b in Q4 only.
    assert keys(only(q3, "5.1")) == {f"5.1:{Q3}:user:{b.id}"}
    assert keys(only(q4, "5.1")) == {f"5.1:2026-Q4:user:{a.id}"}
