"""The supervisor dashboard's fault charts are kept DASHBOARD_CHARTS_TTL seconds (issue 7); the
page says as of when; the statistics page and the dashboard's counts stay live."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from fieldservice.blueprints.statistics import operations as ops
from fieldservice.models import utcnow

TTL = 60


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return object()


def test_a_value_is_kept_until_its_ttl_has_passed_then_computed_again():
    clock, compute = Clock(), Counter()
    cache = ops.TimedCache(clock)
    first = cache.get("en", TTL, compute)
    clock.now += TTL - 1
    assert cache.get("en", TTL, compute) is first and compute.calls == 1
    other = cache.get("zh", TTL, compute)  # another key: its own value
    assert other is not first and compute.calls == 2
    clock.now += 1  # exactly TTL seconds after the first: expired
    again = cache.get("en", TTL, compute)
    assert again is not first and compute.calls == 3
    assert cache.get("en", TTL, compute) is again and compute.calls == 3


def test_ttl_zero_computes_every_time():
    compute = Counter()
    cache = ops.TimedCache(Clock())
    assert cache.get("en", 0, compute) is not cache.get("en", 0, compute)
    assert compute.calls == 2


def test_a_failed_computation_is_not_kept():
    cache, compute = ops.TimedCache(Clock()), Counter()

    def fail():
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        cache.get("en", TTL, fail)
    cache.get("en", TTL, compute)
    assert compute.calls == 1


def test_threads_asking_at_once_compute_the_value_once():
    cache, release = ops.TimedCache(Clock()), threading.Event()
    calls, results = [], []

    def slow():
        calls.append(1)
        release.wait(10)
        return object()

    threads = [threading.Thread(target=lambda: results.append(cache.get("en", TTL, slow))) for _ in range(8)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and len(results) == 8 and len({id(r) for r in results}) == 1


@pytest.mark.parametrize("app_config", [{"DASHBOARD_CHARTS_TTL": TTL}])
def test_dashboard_charts_come_from_the_cache_within_the_ttl(app_config, build, faults):
    clock = Clock()
    cache = ops.TimedCache(clock)
    build.record(utcnow() - timedelta(seconds=2), faults["bearing"])
    first = ops.dashboard_charts("en", cache=cache)
    assert first.stats.total == 1

    build.record(utcnow() - timedelta(seconds=1), faults["bearing"])
    clock.now += TTL - 1
    cached = ops.dashboard_charts("en", cache=cache)
    assert cached.stats is first.stats and cached.as_of == first.as_of and cached.stats.total == 1
    assert ops.dashboard_charts("zh", cache=cache).stats.total == 2  # each language its own

    clock.now += 1
    fresh = ops.dashboard_charts("en", cache=cache)
    assert fresh.stats is not first.stats and fresh.stats.total == 2 and fresh.as_of >= first.as_of


def test_with_the_test_config_the_charts_are_live(build, faults, app):
    assert app.config["DASHBOARD_CHARTS_TTL"] == 0
    build.record(utcnow() - timedelta(seconds=2), faults["bearing"])
    assert ops.dashboard_charts("en").stats.total == 1
    build.record(utcnow() - timedelta(seconds=1), faults["bearing"])
    assert ops.dashboard_charts("en").stats.total == 2


def _week_bar(page: str) -> int:
    week = ops.current_week()
    match = re.search(r'<span class="stat-label">' + week + r'</span>\s*<strong class="stat-count">(\d+)</strong>',
                      page)
    assert match, week
    return int(match.group(1))


@pytest.mark.parametrize("app_config", [{"DASHBOARD_CHARTS_TTL": TTL, "TIMEZONE": "Asia/Shanghai"}])
def test_the_dashboard_says_as_of_when_and_the_statistics_page_stays_live(app_config, app, build, faults, login):
    app.extensions["dashboard_charts_cache"] = ops.TimedCache(Clock())  # time stands still: never expires
    build.record(utcnow() - timedelta(seconds=2), faults["bearing"])
    supervisor = login("supervisor")
    page = supervisor.get("/dashboard").get_data(as_text=True)
    assert _week_bar(page) == 1
    as_of = re.search(r'id="dashboard-charts-as-of">As of (\d\d):(\d\d)<', page)
    assert as_of, page[page.index("dashboard-charts-title"):][:600]
    # HH:MM in the centre's zone (Shanghai, UTC+8), not UTC.
    assert int(as_of.group(1)) in {(utcnow().hour + 8 + d) % 24 for d in (-1, 0)}

    build.record(utcnow() - timedelta(seconds=1), faults["bearing"])
    assert _week_bar(supervisor.get("/dashboard").get_data(as_text=True)) == 1  # kept
    week = ops.current_week()
    live = supervisor.get(f"/statistics/faults?from={week}&to={week}").get_data(as_text=True)
    assert _week_bar(live) == 2
