"""Fault statistics (policy 2.3): counts of ledger rows by fault group and fault, product model,
region and ISO week, hand-counted; every bar links to exactly the ledger rows it counts."""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from fieldservice.blueprints.statistics import operations as ops
from fieldservice.extensions import db
from fieldservice.models import Claim, Region
from fieldservice.services.periods import iso_week
from tests.statistics.conftest import MONDAY, NEXT_MONDAY, PREV_SUNDAY_LAST, SUNDAY_LAST, WEEK
from tests.conftest import count_queries

BAR = re.compile(r'<a class="stat-row" href="([^"]+)">\s*<span class="stat-label">([^<]*)</span>\s*'
                 r'<strong class="stat-count">(\d+)</strong>')
LEDGER_TOTAL = re.compile(r"(\d+) service records?")


@pytest.fixture
def week_data(build, faults):
    """Ledger rows in and around 2026-W10, and records that are not ledger rows.

    In W10 (all but two in region north):
      power  on PX-200: Monday 00:00, Sunday 23:59, and a corrected record (v2 counts; v1 was
             a bearing fault and does not count)
      power  with no product (counts for faults, not for models)
      bearing on PX-200 in the south, on Wednesday
      wiring on QX-900, Friday
      the group "Electrical" alone on QX-900 (counts for its group, not as a fault), Tuesday
    Outside W10: power on QX-900 on Sunday 23:59 of W09; belt on QX-900 on Monday 00:00 of W11.
    Not ledger rows: a draft (W10) and the superseded first version of the corrected record.
    """
    f = faults
    wed = MONDAY + timedelta(days=2, hours=10)
    rows = {
        "mon": build.record(MONDAY, f["power_supply"]),
        "sun": build.record(SUNDAY_LAST, f["power_supply"]),
        "no_product": build.record(wed, f["power_supply"], model=None),
        "south": build.record(wed, f["bearing"], region="south"),
        "wiring": build.record(MONDAY + timedelta(days=4), f["wiring"], model="QX-900"),
        "group_only": build.record(MONDAY + timedelta(days=1), f["electrical"], model="QX-900"),
        "prev": build.record(PREV_SUNDAY_LAST, f["power_supply"], model="QX-900"),
        "next": build.record(NEXT_MONDAY, f["belt"], model="QX-900"),
    }
    old = build.record(wed, f["bearing"], status="superseded")
    rows["corrected"] = build.record(wed + timedelta(hours=1), f["power_supply"], job=old.job, version=2,
                                     supersedes=old)
    build.record(wed, f["power_supply"], status="draft")
    return rows


def test_fault_counts_by_group_fault_model_region_and_week(week_data, faults):
    period = iso_week(WEEK)
    start, end = period.start_dt, period.end_dt
    f = faults
    assert ops.fault_counts(start, end, by="group") == [(f["electrical"].id, 6), (f["mechanical"].id, 1)]
    # Ties in the order of the key (here the fault's id).
    assert ops.fault_counts(start, end, by="leaf") == [(f["power_supply"].id, 4),
                                                       *sorted([(f["bearing"].id, 1), (f["wiring"].id, 1)])]
    assert ops.fault_counts(start, end, by="model") == [("PX-200", 4), ("QX-900", 2)]
    north = db.session.scalar(db.select(Region.id).where(Region.code == "north"))
    south = db.session.scalar(db.select(Region.id).where(Region.code == "south"))
    assert ops.fault_counts(start, end, by="region") == [(north, 6), (south, 1)]
    assert ops.ledger_row_count(start, end) == 7
    # One region only.
    assert ops.fault_counts(start, end, region_id=south, by="leaf") == [(f["bearing"].id, 1)]
    assert ops.fault_counts(start, end, region_id=north, by="model") == [("PX-200", 3), ("QX-900", 2)]
    # Weeks W09..W11: Sunday 23:59 stays in its week, Monday 00:00 starts the next one.
    three = ops.fault_counts(iso_week("2026-W09").start_dt, iso_week("2026-W11").end_dt, by="week")
    assert three == [("2026-W09", 1), (WEEK, 7), ("2026-W11", 1)]
    # A week with no rows is listed with 0.
    assert ops.fault_counts(iso_week("2026-W12").start_dt, iso_week("2026-W13").end_dt, by="week") == \
        [("2026-W12", 0), ("2026-W13", 0)]


def _one_by_one(start, end, region_id=None):
    return ({by: ops.fault_counts(start, end, region_id, by=by) for by in ops.DIMENSIONS},
            ops.ledger_row_count(start, end, region_id))


def test_counts_of_every_dimension_at_once_equal_each_dimensions_count(week_data, faults, build):
    """fault_statistics reads every dimension from two statements (issue 7): the same counts, in
    the same order, as fault_counts and ledger_row_count one by one."""
    build.record(MONDAY + timedelta(hours=5), None, model="QX-900")  # no fault: counts for model, region, week
    build.record(MONDAY + timedelta(hours=6), faults["belt"], model="")  # a product with a blank model
    north = db.session.scalar(db.select(Region.id).where(Region.code == "north"))
    south = db.session.scalar(db.select(Region.id).where(Region.code == "south"))
    for first, last in ((WEEK, WEEK), ("2026-W09", "2026-W11"), ("2026-W08", "2026-W13"), ("2026-W12", "2026-W13")):
        start, end = iso_week(first).start_dt, iso_week(last).end_dt
        for region_id in (None, north, south):
            assert ops.fault_counts_by_every_dimension(start, end, region_id) == _one_by_one(start, end, region_id)
    start, end = iso_week("2026-W09").start_dt, iso_week("2026-W11").end_dt
    counts, total = ops.fault_counts_by_every_dimension(start, end)
    assert total == 11 and counts["week"] == [("2026-W09", 1), (WEEK, 9), ("2026-W11", 1)]
    assert ("", 1) in counts["model"]
    # Within one week, not on its bounds (a period that is not whole weeks).
    start, end = MONDAY + timedelta(hours=1), SUNDAY_LAST
    assert ops.fault_counts_by_every_dimension(start, end) == _one_by_one(start, end)


@pytest.mark.parametrize("app_config", [{"TIMEZONE": "Asia/Shanghai"}])
def test_weeks_follow_the_centre_time_zone(app_config, build, faults, login):
    """In Shanghai (UTC+8), Monday 00:30 local is Sunday 16:30 UTC: it belongs to the new week."""
    sunday_local_2359 = datetime(2026, 3, 8, 15, 59, tzinfo=timezone.utc)  # Sun 23:59 in Shanghai
    monday_local_0030 = datetime(2026, 3, 8, 16, 30, tzinfo=timezone.utc)  # Mon 00:30 in Shanghai
    build.record(sunday_local_2359, faults["power_supply"])
    build.record(monday_local_0030, faults["power_supply"])
    build.record(monday_local_0030 + timedelta(hours=1), faults["bearing"])
    counts = ops.fault_counts(iso_week("2026-W10").start_dt, iso_week("2026-W11").end_dt, by="week")
    assert counts == [("2026-W10", 1), ("2026-W11", 2)]
    # The ledger, filtered by the bar's dates in the same zone, lists the same rows.
    page = login("supervisor").get("/statistics/faults?from=2026-W10&to=2026-W11").get_data(as_text=True)
    bars = {label: (int(n), href) for href, label, n in BAR.findall(page)}
    assert bars["2026-W10"][0] == 1 and bars["2026-W11"][0] == 2
    client = login("dispatcher")
    for label in ("2026-W10", "2026-W11"):
        ledger = client.get(html.unescape(bars[label][1])).get_data(as_text=True)
        assert int(LEDGER_TOTAL.search(ledger).group(1)) == bars[label][0]


def _bars(page: str) -> list[tuple[str, str, int]]:
    return [(html.unescape(href), html.unescape(label), int(n)) for href, label, n in BAR.findall(page)]


def test_every_bar_links_to_exactly_its_ledger_rows(week_data, login):
    supervisor = login("supervisor")
    page = supervisor.get("/statistics/faults?from=2026-W09&to=2026-W11").get_data(as_text=True)
    bars = _bars(page)
    labels = {label: n for _, label, n in bars}
    # Hand-counted over W09..W11 (9 ledger rows).
    assert labels["2026-W09"] == 1 and labels["2026-W10"] == 7 and labels["2026-W11"] == 1
    assert labels["Electrical"] == 7 and labels["Mechanical"] == 2
    assert labels["Electrical › Power supply"] == 5 and labels["Mechanical › Belt"] == 1
    assert labels["PX-200"] == 4 and labels["QX-900"] == 4
    assert labels["Region north"] == 8 and labels["Region south"] == 1
    assert "9 service records" in page
    assert len(bars) == 3 + 2 + 4 + 2 + 2
    dispatcher = login("dispatcher")
    for href, label, n in bars:
        assert href.startswith("/ledger?"), href
        ledger = dispatcher.get(href).get_data(as_text=True)
        assert int(LEDGER_TOTAL.search(ledger).group(1)) == n, (label, href)


def test_a_model_bar_does_not_catch_a_longer_model_name(build, faults, login):
    """PX-2 and PX-200: the bar of PX-2 lists PX-2's rows only (an exact model filter)."""
    build.record(MONDAY, faults["power_supply"], model="PX-2")
    build.record(MONDAY, faults["power_supply"], model="PX-200")
    build.record(MONDAY, faults["power_supply"], model="PX-200")
    page = login("supervisor").get(f"/statistics/faults?from={WEEK}&to={WEEK}").get_data(as_text=True)
    bars = {label: (href, n) for href, label, n in _bars(page)}
    assert bars["PX-2"][1] == 1 and bars["PX-200"][1] == 2
    ledger = login("dispatcher").get(bars["PX-2"][0]).get_data(as_text=True)
    assert "1 service record" in ledger and 'name="model_exact" value="PX-2"' in ledger


def test_region_filter_narrows_every_chart_and_its_links(week_data, login):
    south = db.session.scalar(db.select(Region.id).where(Region.code == "south"))
    client = login("dispatcher")
    response = client.htmx_get(f"/statistics/faults?from={WEEK}&to={WEEK}&region={south}", "fault-results")
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="fault-results"' in fragment
    assert "<html" not in fragment
    bars = _bars(fragment)
    assert {(label, n) for _, label, n in bars} == {(WEEK, 1), ("Mechanical", 1), ("Mechanical › Bearing", 1),
                                                    ("PX-200", 1)}
    assert all(f"region={south}" in href for href, _, _ in bars)


def test_claim_appraisals_by_product_model(build, login, make):
    """Appraised claims submitted in the period, per model (policy 3.7 feeds the statistics)."""
    opener = make.user("technician")
    customer = make.customer()

    def claim(model, appraisal, submitted):
        db.session.add(Claim(claim_type="replacement", status="under_review", customer=customer,
                             region_id=customer.region_id, product_model=model, appraisal=appraisal,
                             opened_by_id=opener.id, opened_dt=submitted, submitted_dt=submitted,
                             amount_claimed=Decimal("10")))

    claim("PX-200", "manufacturing_defect", MONDAY)
    claim("PX-200", "manufacturing_defect", SUNDAY_LAST)
    claim("PX-200", "misuse", MONDAY + timedelta(days=3))
    claim("QX-900", "transport_damage", MONDAY + timedelta(days=1))
    claim("QX-900", None, MONDAY)  # not appraised yet
    claim("QX-900", "misuse", NEXT_MONDAY)  # next week
    db.session.commit()
    period = iso_week(WEEK)
    rows = ops.appraisal_counts(period.start_dt, period.end_dt)
    assert [(r.product_model, r.counts, r.total) for r in rows] == [
        ("PX-200", {"manufacturing_defect": 2, "misuse": 1}, 3),
        ("QX-900", {"transport_damage": 1}, 1),
    ]
    page = login("reviewer").get(f"/statistics/faults?from={WEEK}&to={WEEK}").get_data(as_text=True)
    assert re.search(r"Manufacturing defect: <strong>2</strong>", page)


def test_malformed_weeks_give_a_message_and_the_default_period(login):
    client = login("supervisor")
    response = client.get("/statistics/faults?from=last-week&to=2026-W99")
    assert response.status_code == 200
    assert "Write weeks like 2026-W48" in response.get_data(as_text=True)
    # Weeks given the wrong way round are swapped.
    page = client.get("/statistics/faults?from=2026-W11&to=2026-W09").get_data(as_text=True)
    assert "Weeks 2026-W09 to 2026-W11" in page


def test_fault_page_queries_do_not_grow_with_the_data(build, faults, login):
    client = login("supervisor")

    def queries() -> int:
        return count_queries(client, f"/statistics/faults?from=2026-W09&to={WEEK}")

    build.record(MONDAY, faults["power_supply"])
    few = queries()
    for i, code in enumerate(("bearing", "belt", "wiring", "power_supply", "bearing", "belt")):
        build.record(MONDAY + timedelta(hours=i), faults[code], model=f"M-{i}", region=("north", "south", "east")[i % 3])
        build.record(PREV_SUNDAY_LAST - timedelta(hours=i), faults[code], model=f"M-{i}")
    assert queries() == few


def test_the_supervisor_dashboard_charts_this_weeks_faults_with_ledger_links(build, faults, login):
    """The dashboard's charts (policy 2.3, 2.4): the last weeks by week and the top faults; each
    bar opens the ledger rows behind it, which are exactly as many as the bar counts."""
    from fieldservice.models import utcnow

    now = utcnow()
    for _ in range(3):
        build.record(now - timedelta(minutes=5), faults["bearing"], model="CV-50")
    build.record(now - timedelta(minutes=5), faults["wiring"], model="PX-200")
    c = login("supervisor")
    page = c.get("/dashboard").get_data(as_text=True)
    leaf = page[page.index('id="dashboard-chart-leaf"'):]
    leaf = leaf[:leaf.index("</section>")]
    rows = re.findall(r'<a class="stat-row" href="([^"]+)">\s*<span class="stat-label">([^<]+)</span>\s*'
                      r'<strong class="stat-count">(\d+)</strong>', leaf)
    assert [(html.unescape(label), int(n)) for _, label, n in rows] == [("Mechanical › Bearing", 3),
                                                                          ("Electrical › Wiring", 1)]
    ledger = c.get(html.unescape(rows[0][0])).get_data(as_text=True)
    assert "3 service records" in ledger
