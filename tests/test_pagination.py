"""List pages count at most LIST_COUNT_CAP + 1 rows, then show "1,000+" and keep paging (issue 7).

The cap is lowered to 5 (and the page size to 4) so a dozen rows show what a million would.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from fieldservice.extensions import db
from fieldservice.models import Job
from fieldservice.pagination import paginate
from tests.conftest import count_queries
from tests.ledger.test_ledger import T0, read_csv, record

CAPPED = {"LIST_COUNT_CAP": 5, "PAGE_SIZE": 4}


@pytest.fixture
def twelve_new_jobs(make) -> list[Job]:
    """Twelve unassigned jobs; job i was logged i hours ago, so the queue (earliest arrival
    deadline first) lists them from the twelfth to the first."""
    return [make.job("new", created_ago=timedelta(hours=i)) for i in range(1, 13)]


def shown(body: str, jobs: list[Job]) -> list[int]:
    """Which of `jobs` (their 1-based numbers) a page shows, in the order it shows them."""
    found = [(body.index(job.reference), n) for n, job in enumerate(jobs, start=1) if job.reference in body]
    return [n for _, n in sorted(found)]


def statements_of(fn) -> tuple[object, list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        return fn(), statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


# --- the helper -------------------------------------------------------------------------------


def test_the_total_stops_at_the_cap_and_next_goes_on_past_it(app, twelve_new_jobs):
    stmt = select(Job).order_by(Job.id)
    ids = [job.id for job in sorted(twelve_new_jobs, key=lambda j: j.id)]

    first = paginate(stmt, page=1, per_page=4, count_cap=5)
    assert [j.id for j in first.items] == ids[:4]
    assert (first.total, first.total_is_capped, first.pages) == (5, True, 2)
    assert (first.has_prev, first.has_next, first.prev_num, first.next_num) == (False, True, None, 2)

    # Page 2 reaches past the cap: the pages known to exist grow with it.
    second = paginate(stmt, page=2, per_page=4, count_cap=5)
    assert [j.id for j in second.items] == ids[4:8]
    assert (second.total_is_capped, second.pages, second.has_next, second.prev_num) == (True, 3, True, 1)

    # The last page knows the exact total whatever the cap.
    third = paginate(stmt, page=3, per_page=4, count_cap=5)
    assert [j.id for j in third.items] == ids[8:]
    assert (third.total, third.total_is_capped, third.pages, third.has_next) == (12, False, 3, False)

    beyond = paginate(stmt, page=9, per_page=4, count_cap=5)
    assert beyond.items == [] and not beyond.has_next and beyond.prev_num == 8

    # A cap above the rows counts them all, as db.paginate did.
    whole = paginate(stmt, page=1, per_page=5, count_cap=1000)
    assert (whole.total, whole.total_is_capped, whole.pages, list(whole.iter_pages())) == (12, False, 3, [1, 2, 3])
    assert paginate(stmt, page=0, per_page=5).page == 1
    assert paginate(stmt, page=10**30, per_page=5).items == []  # no integer overflow


def test_two_statements_as_db_paginate_and_the_count_reads_at_most_cap_plus_one_rows(app, twelve_new_jobs):
    stmt = select(Job).order_by(Job.created_dt.desc(), Job.id.desc())
    ours, ours_sql = statements_of(lambda: paginate(stmt, page=1, per_page=4, count_cap=5))
    theirs, theirs_sql = statements_of(lambda: db.paginate(stmt, page=1, per_page=4, error_out=False))
    assert len(ours_sql) == len(theirs_sql) == 2
    assert [j.id for j in ours.items] == [j.id for j in theirs.items]
    count_sql = ours_sql[1].lower()
    assert "count(*)" in count_sql and "limit" in count_sql and "order by" not in count_sql
    assert theirs.total == 12 and ours.total == 5


# --- the list pages ---------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [CAPPED])
def test_queue_shows_five_plus_and_pages_past_the_cap(login, twelve_new_jobs, app_config):
    client = login("dispatcher")
    first = client.get("/dispatch/queue").get_data(as_text=True)
    assert shown(first, twelve_new_jobs) == [12, 11, 10, 9]
    assert "5+ jobs waiting for a technician" in first
    assert "Page 1 of 2+" in first and "page=2" in first

    third = client.get("/dispatch/queue?page=3").get_data(as_text=True)
    assert shown(third, twelve_new_jobs) == [4, 3, 2, 1]
    assert "12 jobs waiting for a technician" in third and "<span>Page 3 of 3</span>" in third
    assert "page=4" not in third and "page=2" in third

    beyond = client.get("/dispatch/queue?page=9")
    assert beyond.status_code == 200
    assert shown(beyond.get_data(as_text=True), twelve_new_jobs) == []


@pytest.mark.parametrize("app_config", [CAPPED])
def test_jobs_list_pages_past_the_cap_newest_first(login, twelve_new_jobs, app_config):
    client = login("dispatcher")
    first = client.get("/jobs").get_data(as_text=True)
    assert shown(first, twelve_new_jobs) == [1, 2, 3, 4]
    assert "Page 1 of 2+" in first
    third = client.get("/jobs?status=new&page=3").get_data(as_text=True)
    assert shown(third, twelve_new_jobs) == [9, 10, 11, 12]
    assert "<span>Page 3 of 3</span>" in third and "status=new" in third
    assert client.get("/jobs?page=50").status_code == 200


@pytest.fixture
def twelve_ledger_rows(make) -> list[Job]:
    """Twelve ledger rows; row i was submitted i days after T0 (the ledger is newest first)."""
    jobs = []
    for i in range(1, 13):
        job = make.job("resolved")
        record(job, submitted_dt=T0 + timedelta(days=i))
        jobs.append(job)
    return jobs


@pytest.mark.parametrize("app_config", [CAPPED])
def test_ledger_shows_five_plus_pages_on_and_the_csv_still_has_every_row(login, twelve_ledger_rows, app_config):
    client = login("dispatcher")
    first = client.get("/ledger").get_data(as_text=True)
    assert shown(first, twelve_ledger_rows) == [12, 11, 10, 9]
    assert "5+ service records" in first and "Page 1 of 2+" in first

    third = client.get("/ledger?page=3").get_data(as_text=True)
    assert shown(third, twelve_ledger_rows) == [4, 3, 2, 1]
    assert "12 service records" in third

    assert client.get("/ledger?page=7").status_code == 200
    assert client.get("/ledger?page=" + "9" * 30).status_code == 200
    # The export streams every row: no cap there.
    _, rows = read_csv(client.get("/ledger.csv"))
    assert len(rows) == 1 + 12


@pytest.mark.parametrize("app_config", [{"PAGE_SIZE": 2}])
def test_small_lists_under_the_cap_read_as_before(login, make, app_config):
    for i in range(3):
        make.job("new", created_ago=timedelta(hours=i))
    page = login("dispatcher").get("/dispatch/queue").get_data(as_text=True)
    assert "3 jobs waiting for a technician" in page and "<span>Page 1 of 2</span>" in page


@pytest.mark.parametrize("app_config", [CAPPED])
@pytest.mark.parametrize("url", ["/dispatch/queue", "/jobs", "/ledger", "/ledger?page=2"])
def test_statements_per_list_request_do_not_change_past_the_cap(login, make, url, app_config):
    """Five rows (under the cap, two pages) and fifteen (past it) take as many statements."""
    client = login("dispatcher")
    tech = make.user("technician")
    for i in range(5):
        record(make.job("resolved", technician=tech), submitted_dt=T0 + timedelta(days=i))
        make.job("new")
    few = count_queries(client, url)
    for i in range(10):
        record(make.job("resolved", technician=tech), submitted_dt=T0 + timedelta(days=10 + i))
        make.job("new")
    assert count_queries(client, url) == few
