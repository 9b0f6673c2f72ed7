"""Weekly summary (policy 3.10): every figure hand-counted from data built across the week's
edges (Sunday 23:59 is in, Monday 00:00 of the next week is out); the page, its CSV, the
`flask weekly-summary` command and the service ledger agree."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from fieldservice.blueprints.statistics import operations as ops
from fieldservice.extensions import db
from fieldservice.models import Claim, Complaint, FollowUp, Suggestion
from tests.statistics.conftest import LONG_AGO, MONDAY, NEXT_MONDAY, PREV_SUNDAY_LAST, SUNDAY_LAST, WEEK
from tests.test_i18n import _catalog as catalogue
from tests.conftest import count_queries

WED_NOON = MONDAY + timedelta(days=2, hours=12)
SATURDAY_NOON = MONDAY + timedelta(days=5, hours=12)
AFTER = NEXT_MONDAY + timedelta(days=1)
LEDGER_TOTAL = re.compile(r"(\d+) service records?")


@pytest.fixture
def week(build, faults, make):
    """A week of everything the summary counts, and records just outside it."""
    f = faults
    day = {d: MONDAY + timedelta(days=d, hours=10) for d in range(7)}
    # 12 ledger rows in W10, each on a job resolved at the same moment.
    rows = [(MONDAY, "power_supply", "PX-200"), (day[2], "power_supply", "PX-200"),
            (SUNDAY_LAST, "power_supply", "PX-200"), (day[2], "bearing", "PX-200"), (day[3], "bearing", "PX-200"),
            (day[2], "wiring", "QX-900"), (day[3], "wiring", "QX-900"), (day[4], "belt", "QX-900"),
            (day[1], "power_supply", "RX-1"), (day[1], "bearing", "SX-5"), (day[1], "wiring", "TX-7"),
            (day[1], "belt", "UX-9")]
    outside = [(PREV_SUNDAY_LAST, "power_supply", "PX-200"), (NEXT_MONDAY, "belt", "UX-9")]
    jobs = []
    for when, code, model in rows + outside:
        job = build.job(model=model, resolved_dt=when)
        build.record(when, f[code], job=job)
        jobs.append(job)
    # Jobs opened: two in the week, two just outside it.
    for when in (MONDAY, SUNDAY_LAST, PREV_SUNDAY_LAST, NEXT_MONDAY):
        build.job(status="new", created_dt=when, deadline=when + timedelta(days=30))
    # Jobs closed: one; a cancelled one and one closed next week are not counted.
    build.job(status="closed", closed_dt=day[2])
    build.job(status="cancelled", closed_dt=day[2])
    build.job(status="closed", closed_dt=NEXT_MONDAY)
    # Arrival deadlines (all on jobs logged long ago).
    minute = timedelta(minutes=1)
    build.job(status="resolved", deadline=WED_NOON, checked_in_dt=WED_NOON + minute)  # missed (late)
    build.job(status="resolved", deadline=WED_NOON, checked_in_dt=WED_NOON - minute)  # met
    build.job(status="assigned", deadline=WED_NOON)  # missed (nobody came)
    build.job(status="cancelled", deadline=WED_NOON, closed_dt=WED_NOON - timedelta(hours=1))  # cancelled before
    build.job(status="cancelled", deadline=WED_NOON, closed_dt=WED_NOON + timedelta(hours=1))  # missed, then cancelled
    build.job(status="assigned", deadline=SUNDAY_LAST)  # missed once Sunday 23:59 has passed
    build.job(status="assigned", deadline=NEXT_MONDAY)  # next week's
    build.job(status="resolved", deadline=PREV_SUNDAY_LAST, checked_in_dt=MONDAY)  # last week's
    # Complaints: late arrival twice (once a repeat), other once on Sunday 23:59; two outside.
    customer, dispatcher = make.customer(), build.dispatcher
    for when, category, repeat in ((day[1], "late_arrival", False), (day[3], "late_arrival", True),
                                   (SUNDAY_LAST, "other", False), (PREV_SUNDAY_LAST, "late_arrival", True),
                                   (NEXT_MONDAY, "behaviour", False)):
        db.session.add(Complaint(customer=customer, region_id=customer.region_id, category=category,
                                 description="Late again", logged_by_id=dispatcher.id, logged_dt=when,
                                 escalated=repeat, escalated_dt=when if repeat else None))
    # Claims decided in the week: approved 2 in CNY and 1 in USD, rejected 1; two not counted.
    reviewer = make.user("reviewer")
    for status, currency, claimed, approved, decided in (
            ("approved", "CNY", "100.00", "80.00", day[1]), ("approved", "CNY", "250.50", "250.50", SUNDAY_LAST),
            ("approved", "USD", "10.00", "10.00", day[2]), ("rejected", "CNY", "40.00", None, MONDAY),
            ("approved", "CNY", "999.00", "999.00", PREV_SUNDAY_LAST), ("under_review", "CNY", "5.00", None, None)):
        db.session.add(Claim(claim_type="replacement", status=status, customer=customer, region_id=customer.region_id,
                             opened_by_id=reviewer.id, opened_dt=LONG_AGO, submitted_dt=LONG_AGO, decided_dt=decided,
                             currency=currency, amount_claimed=Decimal(claimed),
                             approved_amount=Decimal(approved) if approved else None))
    # Follow-up calls: reached in the week with 5, 4, 4, 2 and one without a score; a call not
    # answered; one reached last week.
    for job, outcome, score, called in ((jobs[0], "reached", 5, day[1]), (jobs[1], "reached", 4, day[2]),
                                        (jobs[2], "reached", 4, SUNDAY_LAST), (jobs[3], "reached", 2, MONDAY),
                                        (jobs[4], "reached", None, day[4]), (jobs[5], "no_answer", None, day[4]),
                                        (jobs[6], "reached", 1, PREV_SUNDAY_LAST)):
        db.session.add(FollowUp(job=job, region_id=job.region_id, status="done", due_dt=called, outcome=outcome,
                                satisfaction=score, called_dt=called, called_by_id=dispatcher.id))
    # Suggestions: 3 submitted in the week; 2 adopted in the week (one of them submitted long ago).
    author = make.user("technician")
    for created, status, decided in ((day[1], "proposed", None), (day[2], "adopted", day[4]),
                                     (LONG_AGO, "adopted", day[3]), (day[5], "not_adopted", day[6]),
                                     (PREV_SUNDAY_LAST, "adopted", NEXT_MONDAY)):
        db.session.add(Suggestion(author_id=author.id, created_dt=created, title="Thicker rollers", body="…",
                                  status=status, decided_dt=decided))
    db.session.commit()
    return f


def test_weekly_summary_hand_counted(week):
    s = ops.weekly_summary(WEEK, now=AFTER)
    assert (s.week.first_day.isoformat(), s.week.last_day.isoformat()) == ("2026-03-02", "2026-03-08")
    assert (s.jobs_opened, s.jobs_resolved, s.jobs_closed, s.ledger_rows) == (2, 12, 1, 12)
    assert s.deadlines_missed == 4
    assert s.complaints == {"late_arrival": 2, "poor_communication": 0, "fault_not_fixed": 0, "behaviour": 0,
                            "product_quality": 0, "inspection_negligence": 0, "other": 1}
    assert (s.complaints_total, s.complaints_repeated) == (3, 1)
    assert [(c.outcome, c.currency, c.count, c.amount_claimed, c.amount_approved) for c in s.claims] == [
        ("approved", "CNY", 2, Decimal("350.50"), Decimal("330.50")),
        ("approved", "USD", 1, Decimal("10.00"), Decimal("10.00")),
        ("rejected", "CNY", 1, Decimal("40.00"), Decimal("0.00")),
    ]
    # Faults: power 4, wiring 3, bearing 3 (a tie: in the order of the fault's id), belt 2.
    assert [(c.code, n) for c, n in s.top_faults] == [("power_supply", 4), ("wiring", 3), ("bearing", 3), ("belt", 2)]
    # Models: six of them; the top 5 leave UX-9 out (ties by name).
    assert s.top_models == [("PX-200", 5), ("QX-900", 3), ("RX-1", 1), ("SX-5", 1), ("TX-7", 1)]
    assert s.follow_ups_reached == 5
    assert s.satisfaction_average == Decimal("3.75")
    assert s.satisfaction == {1: 0, 2: 1, 3: 0, 4: 2, 5: 1}
    assert (s.suggestions_submitted, s.suggestions_adopted) == (3, 2)


def test_a_deadline_still_ahead_is_not_yet_missed(week):
    """On Saturday noon Sunday 23:59's deadline has not passed: 3 missed, not 4."""
    assert ops.weekly_summary(WEEK, now=SATURDAY_NOON).deadlines_missed == 3


def test_an_empty_week_is_all_zeros(app):
    s = ops.weekly_summary("2026-W30", now=AFTER)
    assert s.complaints == dict.fromkeys(s.complaints, 0) and len(s.complaints) == 7
    assert (s.jobs_opened, s.jobs_resolved, s.jobs_closed, s.ledger_rows, s.deadlines_missed) == (0, 0, 0, 0, 0)
    assert s.complaints_total == 0 and s.claims == [] and s.top_faults == [] and s.top_models == []
    assert s.satisfaction_average is None and s.follow_ups_reached == 0
    with app.test_request_context(headers={"Accept-Language": "en"}):
        rows = ops.summary_rows(s, lambda text, **kw: text % kw if kw else text)
    assert all(len(r) == 3 for r in rows) and rows[0] == ("Section", "Item", "Value")
    assert ("Claims decided", "Approved: amount claimed (CNY)", "0.00") in rows


@pytest.mark.parametrize("app_config", [{"TIMEZONE": "Asia/Shanghai"}])
def test_the_week_is_the_centre_week(app_config, build):
    """Shanghai is UTC+8: Sunday 23:59 local (15:59 UTC) is in W10, Monday 00:00 local is W11."""
    build.job(status="new", created_dt=datetime(2026, 3, 8, 15, 59, tzinfo=timezone.utc))
    build.job(status="new", created_dt=datetime(2026, 3, 8, 16, 0, tzinfo=timezone.utc))
    build.job(status="new", created_dt=datetime(2026, 3, 1, 16, 0, tzinfo=timezone.utc))  # Mon 00:00 local, W10
    build.job(status="new", created_dt=datetime(2026, 3, 1, 15, 59, tzinfo=timezone.utc))  # Sun 23:59 local, W09
    assert ops.weekly_summary(WEEK, now=AFTER).jobs_opened == 2
    assert ops.weekly_summary("2026-W11", now=AFTER).jobs_opened == 1


def read_csv(response) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode("utf-8"))
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _page_lines(page: str) -> list[tuple[str, str]]:
    cells = re.findall(r'<th scope="row">(.*?)</th>\s*<td>(?:<a href="[^"]*">)?(.*?)(?:</a>)?</td>', page, re.S)
    return [(html.unescape(item), html.unescape(value)) for item, value in cells]


def test_page_csv_and_ledger_agree(week, login):
    client = login("dispatcher")
    page = client.get(f"/statistics/weekly?week={WEEK}").get_data(as_text=True)
    response = client.get(f"/statistics/weekly.csv?week={WEEK}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f"attachment; filename=weekly-summary-{WEEK}.csv"
    rows = read_csv(response)
    assert rows[0] == ["Section", "Item", "Value"]
    csv_lines = [(item, value if value != "" else "—") for _, item, value in rows[1:]]
    assert _page_lines(page) == csv_lines
    figures = {item: value for _, item, value in rows[1:]}
    assert figures["Jobs resolved"] == figures["Service records in the ledger"] == "12"
    assert figures["Approved: amount claimed (CNY)"] == "350.50"
    assert figures["Rejected: amount claimed (USD)"] == "0.00"
    assert figures["Average satisfaction (1-5)"] == "3.75"
    assert figures["Electrical › Power supply"] == "4" and "UX-9" not in figures
    # The linked figures open the ledger on exactly their rows.
    links = re.findall(r'<th scope="row">([^<]*)</th>\s*<td><a href="([^"]+)">(\d+)</a></td>', page)
    assert {html.unescape(i) for i, _, _ in links} == {"Service records in the ledger", "Electrical › Power supply",
                                                       "Mechanical › Bearing", "Electrical › Wiring",
                                                       "Mechanical › Belt", "PX-200", "QX-900", "RX-1", "SX-5", "TX-7"}
    for item, href, n in links:
        ledger = client.get(html.unescape(href)).get_data(as_text=True)
        assert int(LEDGER_TOTAL.search(ledger).group(1)) == int(n), item


def test_csv_columns_are_stable(week, build, faults, login):
    """Three columns; the same rows whatever the data, except the top lists and currencies."""
    client = login("supervisor")
    before = read_csv(client.get("/statistics/weekly.csv?week=2026-W30"))
    build.job(status="new", created_dt=datetime(2026, 7, 21, 9, 0, tzinfo=timezone.utc))
    after = read_csv(client.get("/statistics/weekly.csv?week=2026-W30"))
    assert all(len(r) == 3 for r in before + after)
    assert [r[:2] for r in before] == [r[:2] for r in after]
    assert dict((r[1], r[2]) for r in after)["Jobs opened"] == "1"
    full = read_csv(client.get(f"/statistics/weekly.csv?week={WEEK}"))
    sections = [r[0] for r in full[1:]]
    assert list(dict.fromkeys(sections)) == ["Week", "Jobs", "Complaints", "Claims decided", "Top fault categories",
                                             "Top product models", "Follow-up calls", "Quality improvement suggestions"]


def test_a_chinese_reader_gets_chinese_labels(week, login, make):
    reader = login(make.user("dispatcher", locale="zh_CN"))
    rows = read_csv(reader.get(f"/statistics/weekly.csv?week={WEEK}"))
    assert all(len(r) == 3 for r in rows)
    assert ("派工单" in {r[0] for r in rows})  # the section "Jobs", as the glossary has it
    assert "电气 › 电源" in {r[1] for r in rows}  # fault names in Chinese


def test_csv_headers_are_translated(week, login, make):
    """Fails until the lead has translated the new strings in the catalogue (as test_i18n does)."""
    reader = login(make.user("supervisor", locale="zh_CN"))
    rows = read_csv(reader.get(f"/statistics/weekly.csv?week={WEEK}"))
    po = catalogue()
    expected = [po.get(m).string if po.get(m) is not None else None for m in ("Section", "Item", "Value")]
    assert all(expected), "translate Section / Item / Value in the zh_CN catalogue"
    assert rows[0] == expected


def test_weekly_summary_command_writes_the_same_csv(week, app, login, tmp_path):
    out = tmp_path / "summary.csv"
    result = app.test_cli_runner().invoke(args=["weekly-summary", "--week", WEEK, "--output", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    downloaded = login("dispatcher").get(f"/statistics/weekly.csv?week={WEEK}").get_data()
    assert out.read_bytes() == downloaded
    chinese = app.test_cli_runner().invoke(args=["weekly-summary", "--week", WEEK, "--lang", "zh_CN"])
    assert chinese.exit_code == 0 and "派工单" in chinese.output and "电气 › 电源" in chinese.output
    bad = app.test_cli_runner().invoke(args=["weekly-summary", "--week", "2026-W54"])
    assert bad.exit_code != 0 and "ISO week" in bad.output


def test_weekly_page_defaults_to_this_week_and_links_the_neighbours(login):
    client = login("dispatcher")
    current = ops.current_week()
    page = client.get("/statistics/weekly").get_data(as_text=True)
    assert f'<strong class="week-name">{current} ' in page
    page = client.get(f"/statistics/weekly?week={WEEK}").get_data(as_text=True)
    assert 'href="/statistics/weekly?week=2026-W09" rel="prev"' in page
    assert 'href="/statistics/weekly?week=2026-W11" rel="next"' in page
    fragment = client.htmx_get(f"/statistics/weekly?week={WEEK}", "weekly-summary").get_data(as_text=True)
    assert "<html" not in fragment and 'id="weekly-summary"' in fragment


def test_a_malformed_week_is_explained_not_an_error(login):
    client = login("dispatcher")
    for bad in ("2026-W54", "48", "2026-48", "<script>"):
        response = client.get("/statistics/weekly", query_string={"week": bad})
        assert response.status_code == 400
        assert "is not an ISO week. Write it like 2026-W48." in response.get_data(as_text=True)
        assert client.get("/statistics/weekly.csv", query_string={"week": bad}).status_code == 400


def test_weekly_page_queries_do_not_grow_with_the_data(build, faults, login):
    client = login("supervisor")

    def queries() -> int:
        return count_queries(client, f"/statistics/weekly?week={WEEK}")

    build.record(MONDAY, faults["power_supply"])
    few = queries()
    for i, code in enumerate(("bearing", "belt", "wiring", "power_supply", "bearing", "belt", "wiring")):
        build.record(MONDAY + timedelta(hours=i), faults[code], model=f"M-{i}")
        build.job(status="new", created_dt=MONDAY + timedelta(hours=i))
    assert queries() == few
