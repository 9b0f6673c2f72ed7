"""The supervisor's tour on `make run`'s demo data (issue 6, policy 2.3, 2.4, 2.6, 3.10, 4, 5).

A dispatcher logs a second complaint from the same customer on the same issue; the supervisor
(desktop) finds it in the repeated-complaint queue from the dashboard, follows a fault bar to the
ledger rows behind it, reads last week's summary and downloads its CSV (the two agree), sees
Li Ming as a reward candidate (no complaint this quarter) and Liu Yang as a penalty candidate
(late arrival that led to a complaint), confirms the penalty, and Liu Yang sees it on his
scorecard on his phone.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from fieldservice.demo import DEMO_PASSWORD
from fieldservice.extensions import db
from fieldservice.models import Complaint, utcnow
from fieldservice.services.periods import week_name
from tests.browser.conftest import assert_no_browser_problems, expect, seed_demo_data, shot, sign_in


@pytest.fixture
def demo(live_app):
    """The demo data; returns the job of Shenzhen Harbour's earlier complaint and last week."""
    seed_demo_data(live_app)
    with live_app.app_context():
        complaint = db.session.scalar(select(Complaint).where(Complaint.category == "poor_communication"))
        job_id, reference = complaint.job_id, complaint.job.reference
        last_week = week_name(utcnow() - timedelta(weeks=1))
        db.session.remove()
    return job_id, reference, last_week


def _tile(page, key: str) -> int:
    return int(page.locator(f"#count-{key} .tile-count").inner_text())


def test_supervisor_tour(demo, new_page, live_app):
    job_id, job_reference, last_week = demo

    # --- dispatcher: the same customer complains again about the same job ------------------
    desk = new_page("desktop")
    sign_in(desk, "dispatcher", DEMO_PASSWORD)
    desk.goto(f"/jobs/{job_id}")
    desk.get_by_role("link", name="Log complaint").click()
    desk.get_by_label("What is the complaint about?").select_option("fault_not_fixed")
    desk.get_by_label("The complaint, in the customer's words").fill("The spinner is as loud as before the visit.")
    desk.get_by_role("button", name="Log complaint").click()
    desk.wait_for_url(re.compile(r"/complaints/\d+$"))
    expect(desk.locator("#messages")).to_contain_text("escalated to the supervisor")
    new_reference = re.search(r"T\d{6}", desk.locator("#messages").inner_text()).group(0)
    shot(desk, "tour-repeat-complaint-logged")
    assert_no_browser_problems(desk)

    # --- supervisor: the dashboard, the repeated complaint with the earlier one linked ------
    boss = new_page("desktop")
    sign_in(boss, "supervisor", DEMO_PASSWORD)
    expect(boss.get_by_role("heading", level=1)).to_have_text("Supervisor dashboard")
    assert _tile(boss, "repeated_complaints") == 2  # the demo's repeat and this one
    assert _tile(boss, "quality_flags") >= 1 and _tile(boss, "overdue_follow_ups") >= 1
    assert _tile(boss, "performance_candidates") >= 2
    expect(boss.locator("#dashboard-chart-week .stat-row")).not_to_have_count(0)
    expect(boss.locator(".quality-flags-brief")).to_contain_text("FL-8 Filler")
    shot(boss, "tour-dashboard")
    boss.locator("#count-repeated_complaints").click()
    card = boss.locator(".complaint-card", has_text=new_reference)
    expect(card).to_have_count(1)
    expect(card.locator(".earlier")).to_contain_text("Poor communication")
    shot(boss, "tour-repeated-complaints")

    # --- a fault bar opens exactly the ledger rows it counts -------------------------------
    boss.get_by_role("link", name="Dashboard").click()
    bar = boss.locator("#dashboard-chart-leaf .stat-row").first
    counted = int(bar.locator(".stat-count").inner_text())
    bar.click()
    boss.wait_for_url(re.compile(r"/ledger"))
    expect(boss.locator("#ledger-results")).to_contain_text(f"{counted} service record")
    shot(boss, "tour-ledger-behind-a-bar")

    # --- last week's summary and its CSV agree --------------------------------------------
    boss.goto(f"/statistics/weekly?week={last_week}")
    shown = {}
    for row in boss.locator("table.summary tr").all():
        shown[row.locator("th").inner_text().strip()] = row.locator("td").inner_text().strip()
    assert int(shown["Jobs opened"]) > 0 and int(shown["Customers reached"]) > 0
    with boss.expect_download() as download:
        boss.get_by_role("link", name="Download CSV").click()
    text = open(download.value.path(), encoding="utf-8-sig").read()
    rows = {r[1]: r[2] for r in csv.reader(io.StringIO(text)) if len(r) == 3}
    for item in ("Jobs opened", "Jobs resolved", "Jobs closed", "Arrival deadlines missed", "Customers reached",
                 "All complaints"):
        assert rows[item] == shown[item], (item, rows[item], shown[item])
    shot(boss, "tour-weekly-summary")

    # --- penalties and rewards of the quarter ----------------------------------------------
    boss.get_by_role("navigation", name="Main").get_by_text("More", exact=True).click()
    boss.get_by_role("link", name="Penalties and rewards").click()
    reward = boss.locator("article.candidate", has_text="Li Ming").filter(has_text="policy 5.1")
    expect(reward).to_have_count(1)
    penalty = boss.locator("article.candidate", has_text="late").filter(has_text="policy 4.1")
    expect(penalty).to_have_count(1)
    penalty.get_by_label("Severity (to confirm)").select_option("minor")
    penalty.get_by_label("Note").fill("Arrived a day late; talked it through.")
    penalty.get_by_role("button", name="Confirm").click()
    expect(boss.locator("article.candidate", has_text="Decision recorded")).to_have_count(1)
    shot(boss, "tour-penalty-confirmed")
    assert_no_browser_problems(boss)

    # --- Liu Yang sees the confirmed penalty on his own scorecard --------------------------
    phone = new_page("phone")
    sign_in(phone, "tech4", DEMO_PASSWORD)
    phone.goto("/performance/me")
    expect(phone.locator("main")).to_contain_text("policy 4.1")
    expect(phone.locator("main")).to_contain_text("Minor")
    shot(phone, "tour-scorecard")
    assert_no_browser_problems(phone)
