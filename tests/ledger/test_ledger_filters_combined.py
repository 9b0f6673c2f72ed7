"""The service ledger's filters together (policy 3.10), and the shape of its queries at scale (issue 7).

A period with a region and a fault group is how dispatchers read the ledger; on a million jobs
the rows it lists and the count it shows must stay those of each filter applied on its own, while
the count reads only the rows it needs (bench/RESULTS.md, "Ledger,").
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event

from fieldservice.blueprints.ledger.operations import LedgerFilters, fault_category_ids, ledger_page
from fieldservice.extensions import db
from tests.ledger.test_ledger import T0, ledger_args, record, refs
from tests.ledger.test_ledger import ledger  # noqa: F401  (a fixture: three rows, two regions)

CAPPED = {"LIST_COUNT_CAP": 5, "PAGE_SIZE": 4}


@pytest.mark.parametrize("args, expected", [
    ({"from": "2024-03-01", "to": "2024-03-05", "region": "north", "fault": "electrical"}, {"north", "corrected"}),
    ({"from": "2024-03-02", "region": "north", "fault": "electrical"}, {"corrected"}),
    ({"to": "2024-03-04", "region": "south", "fault": "mechanical"}, {"south"}),
    ({"region": "south", "fault": "electrical"}, set()),
    ({"region": "north", "fault": "power"}, {"north"}),  # one fault, not its group
    ({"region": "north", "model": "px-"}, {"north", "corrected"}),
    ({"region": "south", "model": "px-"}, set()),
    ({"from": "2024-03-02", "model_exact": "PX-300"}, {"corrected"}),
    ({"from": "2024-03-02", "model_exact": "PX-3"}, set()),  # exactly, not "contains"
    ({"technician": "tech_a", "fault": "electrical", "outcome": "fixed"}, {"north"}),
    ({"fault": "999999"}, set()),  # no such fault
])
def test_filters_together_list_only_the_rows_every_filter_lets_through(login, make, ledger, args, expected):
    args = ledger_args(args, make, ledger)
    page = login("dispatcher").get("/ledger", query_string=args).get_data(as_text=True)
    assert refs(page, ledger) == expected
    assert f">{len(expected)} service record" in page  # the count shown agrees


def test_a_fault_group_stands_for_itself_and_its_faults_a_fault_for_itself(app, ledger):
    faults = ledger["faults"]
    assert sorted(fault_category_ids(faults["electrical"].id)) == sorted([faults["electrical"].id,
                                                                         faults["power"].id])
    assert fault_category_ids(faults["power"].id) == [faults["power"].id]
    assert fault_category_ids(999999) == []


@pytest.fixture
def two_regions_of_rows(make):
    """Eight ledger rows in the north and three in the south, one a day from T0 + 1 day, then
    four older northern rows (before the period the tests filter by)."""
    north, south = [], []
    for i in range(1, 12):
        region = "north" if i <= 8 else "south"
        job = make.job("resolved", customer=make.customer(region=region))
        record(job, submitted_dt=T0 + timedelta(days=i))
        (north if region == "north" else south).append(job)
    for i in range(1, 5):
        record(make.job("resolved"), submitted_dt=T0 - timedelta(days=30 + i))
    return {"north": north, "south": south}


@pytest.mark.parametrize("app_config", [CAPPED])
def test_a_period_and_a_region_count_up_to_the_cap_and_page_newest_first(login, make, two_regions_of_rows,
                                                                         app_config):
    client = login("dispatcher")
    north, south = make.region("north").id, make.region("south").id
    period = "from=2024-03-01&to=2024-03-31"

    first = client.get(f"/ledger?{period}&region={north}").get_data(as_text=True)
    assert "5+ service records" in first and "Page 1 of 2+" in first
    shown = [job.reference for job in reversed(two_regions_of_rows["north"]) if job.reference in first]
    assert shown == [job.reference for job in reversed(two_regions_of_rows["north"])][:4]

    last = client.get(f"/ledger?{period}&region={north}&page=2").get_data(as_text=True)
    assert "8 service records" in last

    southern = client.get(f"/ledger?{period}&region={south}").get_data(as_text=True)
    assert "3 service records" in southern
    # Without the period the older northern rows count too (past the cap either way).
    assert "5+ service records" in client.get(f"/ledger?region={north}").get_data(as_text=True)


def _count_statement(filters: LedgerFilters) -> str:
    statements: list[str] = []

    def remember(conn, cursor, statement, *args):
        statements.append(statement.lower())

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        ledger_page(filters, 1, 25)
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    counts = [s for s in statements if "count(*)" in s]
    assert len(counts) == 1, statements
    return counts[0]


def test_the_count_reads_a_period_newest_first_and_joins_jobs_only_for_their_filters(app, ledger):
    """On a million jobs: counting a period in any order made PostgreSQL merge-join diagnoses to
    jobs along job ids from the first (0.3-0.7 s); joining jobs for filters on the diagnosis alone
    kept the count off the index that answers it (0.6 s -> 1 ms for 90 days). bench/RESULTS.md."""
    period = date(2024, 3, 1)
    region = ledger["jobs"]["north"].region_id
    electrical = ledger["faults"]["electrical"].id

    by_period = _count_statement(LedgerFilters(date_from=period, fault_category_id=electrical))
    assert "order by" in by_period and " join " not in by_period

    by_region = _count_statement(LedgerFilters(date_from=period, region_id=region))
    assert "order by" in by_region and "join jobs" in by_region and "products" not in by_region

    # Without a period, or by product model, any order: PostgreSQL may start where it likes.
    assert "order by" not in _count_statement(LedgerFilters(region_id=region))
    by_model = _count_statement(LedgerFilters(date_from=period, model_exact="PX-300"))
    assert "order by" not in by_model and "join products" in by_model
