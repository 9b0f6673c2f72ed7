"""The service ledger (policy 3.10): one row per current submitted diagnosis, filters, pages, CSV."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from fieldservice.blueprints.ledger.operations import LedgerFilters, ledger_query
from fieldservice.extensions import db
from fieldservice.models import Diagnosis, FaultCategory, ReplacedPart
from fieldservice.models.diagnosis import DRAFT, FIXED, NEEDS_PARTS, OUT_OF_SCOPE, SUBMITTED, SUPERSEDED
from tests.test_i18n import _catalog as catalogue
from tests.test_i18n import compiled_catalogue  # noqa: F401  (a fixture: the .mo is up to date)
from tests.conftest import count_queries

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


def fault_tree() -> dict[str, FaultCategory]:
    """Two groups with a fault each, named in both languages."""
    electrical = FaultCategory(code="electrical", name_en="Electrical", name_zh="电气", position=0)
    power = FaultCategory(code="power_supply", name_en="Power supply", name_zh="电源", parent=electrical)
    mechanical = FaultCategory(code="mechanical", name_en="Mechanical", name_zh="机械", position=1)
    bearing = FaultCategory(code="bearing", name_en="Bearing", name_zh="轴承", parent=mechanical)
    db.session.add_all([electrical, power, mechanical, bearing])
    db.session.commit()
    return {"electrical": electrical, "power": power, "mechanical": mechanical, "bearing": bearing}


def record(job, *, version: int = 1, status: str = SUBMITTED, submitted_dt: datetime = T0,
           fault: FaultCategory | None = None, outcome: str = FIXED, parts: int = 0,
           supersedes: Diagnosis | None = None, minutes: int = 75) -> Diagnosis:
    """A diagnosis written straight into the database, as the diagnosis form would leave it."""
    diagnosis = Diagnosis(
        job=job, version=version, status=status, technician_id=job.technician_id,
        symptom="机器运行十分钟后停机", fault_category=fault, root_cause="电源模块过热",
        actions_taken="更换电源模块", guidance="保持通风口清洁", outcome=outcome,
        contact_name="王经理", submitted_dt=None if status == DRAFT else submitted_dt,
        time_on_site_seconds=minutes * 60, supersedes=supersedes,
        parts=[ReplacedPart(position=i, part_number=f"PSU-{i}", description="电源模块", quantity=1)
               for i in range(parts)],
    )
    db.session.add(diagnosis)
    db.session.commit()
    return diagnosis


@pytest.fixture
def ledger(make):
    """Three ledger rows that differ in every filtered property, plus records that are not rows."""
    faults = fault_tree()
    tech_a = make.user("technician", display_name="Li Wei")
    tech_b = make.user("technician", region="south", display_name="Zhang Min")
    north = make.job("resolved", technician=tech_a, customer=make.customer("华北机械厂"))
    north.product.model = "PX-200"
    south = make.job("resolved", technician=tech_b, customer=make.customer("Canton Textiles", region="south"))
    south.product.model = "QX-900"
    corrected = make.job("resolved", technician=tech_a, customer=make.customer("Tianjin Paper"))
    corrected.product.model = "PX-300"
    draft_only = make.job("on_site", technician=tech_a)
    db.session.commit()

    rows = {
        "north": record(north, submitted_dt=T0, fault=faults["power"], outcome=FIXED, parts=2),
        "south": record(south, submitted_dt=T0 + timedelta(days=2), fault=faults["bearing"],
                        outcome=NEEDS_PARTS),
    }
    v1 = record(corrected, submitted_dt=T0 + timedelta(days=3), fault=faults["power"],
                outcome=FIXED, status=SUPERSEDED)
    rows["corrected"] = record(corrected, version=2, supersedes=v1, submitted_dt=T0 + timedelta(days=4),
                               fault=faults["electrical"], outcome=OUT_OF_SCOPE)
    record(draft_only, status=DRAFT)
    return {"rows": rows, "faults": faults, "tech_a": tech_a, "tech_b": tech_b,
            "jobs": {"north": north, "south": south, "corrected": corrected, "draft": draft_only}}


def ledger_args(args: dict, make, ledger) -> dict:
    """The query string of a filter case: technician, region and fault names turned into ids
    (a fault that is not one of the fixture's is kept as written)."""
    args = dict(args)
    if "technician" in args:
        args["technician"] = str(ledger[args["technician"]].id)
    if "region" in args:
        args["region"] = str(make.region(args["region"]).id)
    if args.get("fault") in ledger["faults"]:
        args["fault"] = str(ledger["faults"][args["fault"]].id)
    return args


def refs(page: str, ledger) -> set[str]:
    return {name for name, job in ledger["jobs"].items() if job.reference in page}


def test_only_current_submitted_diagnoses_are_ledger_rows(login, ledger):
    page = login("dispatcher").get("/ledger").get_data(as_text=True)
    assert refs(page, ledger) == {"north", "south", "corrected"}
    assert "3 service records" in page
    # The correction is listed once, as its second version; the draft is not a record yet.
    assert page.count(ledger["jobs"]["corrected"].reference) == 1
    assert ">v2<" in page
    rows = db.session.scalars(ledger_query(LedgerFilters())).all()
    assert [d.id for d in rows] == [ledger["rows"][k].id for k in ("corrected", "south", "north")]


def test_row_shows_what_the_service_ledger_records(login, ledger):
    page = login("dispatcher").get("/ledger").get_data(as_text=True)
    north = ledger["jobs"]["north"]
    assert f'href="/jobs/{north.id}"' in page
    assert "华北机械厂" in page and "PX-200" in page and north.product.serial in page
    assert "Li Wei" in page and "Region north" in page
    assert "Electrical › Power supply" in page
    assert "Needs parts (follow-up visit)" in page
    assert "1 h 15 min" in page


def test_fault_category_is_shown_in_the_readers_language(login, make, ledger):
    reader = login(make.user("dispatcher", locale="zh_CN"))
    page = reader.get("/ledger").get_data(as_text=True)
    assert "电气 › 电源" in page and "机械 › 轴承" in page


@pytest.mark.parametrize("args, expected", [
    ({"from": "2024-03-02"}, {"south", "corrected"}),
    ({"to": "2024-03-03"}, {"north", "south"}),
    ({"from": "2024-03-03", "to": "2024-03-03"}, {"south"}),
    ({"technician": "tech_b"}, {"south"}),
    ({"region": "south"}, {"south"}),
    ({"fault": "power"}, {"north"}),
    ({"fault": "electrical"}, {"north", "corrected"}),  # a group stands for all its faults
    ({"fault": "mechanical"}, {"south"}),
    ({"outcome": "out_of_scope"}, {"corrected"}),
    ({"model": "px-"}, {"north", "corrected"}),  # contains, any case
    ({"model": "900"}, {"south"}),
    ({"model": "PX", "outcome": "fixed"}, {"north"}),
    ({"model": "100%"}, set()),
    ({"outcome": "nonsense", "from": "not-a-date"}, {"north", "south", "corrected"}),
])
def test_each_filter_narrows_the_ledger(login, make, ledger, args, expected):
    args = ledger_args(args, make, ledger)
    client = login("dispatcher")
    page = client.get("/ledger", query_string=args).get_data(as_text=True)
    assert refs(page, ledger) == expected
    fragment = client.htmx_get("/ledger", "ledger-results", query_string=args)
    assert fragment.status_code == 200
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="ledger-results">') and "<html" not in body
    assert refs(body, ledger) == expected


@pytest.mark.parametrize("app_config", [{"TIMEZONE": "Asia/Shanghai"}])
def test_date_filter_uses_the_service_centres_local_days(login, make, app_config):
    job = make.job("resolved")
    # 17:30 UTC on 1 March is 01:30 on 2 March in Shanghai: a record of 2 March there.
    record(job, submitted_dt=datetime(2024, 3, 1, 17, 30, tzinfo=timezone.utc))
    client = login("dispatcher")
    assert job.reference in client.get("/ledger?from=2024-03-02&to=2024-03-02").get_data(as_text=True)
    assert job.reference not in client.get("/ledger?to=2024-03-01").get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"PAGE_SIZE": 2}])
def test_ledger_is_paginated_newest_first(login, ledger, app_config):
    client = login("dispatcher")
    first = client.get("/ledger").get_data(as_text=True)
    assert refs(first, ledger) == {"corrected", "south"}
    assert "Page 1 of 2" in first and "page=2" in first
    second = client.get("/ledger?page=2").get_data(as_text=True)
    assert refs(second, ledger) == {"north"}
    # The pager keeps the filters.
    filtered = client.get("/ledger?model=X&page=1").get_data(as_text=True)
    assert "model=X" in filtered and "page=2" in filtered


def test_ledger_page_queries_do_not_grow_with_the_rows(login, make, ledger):
    client = login("dispatcher")

    def queries() -> int:
        return count_queries(client, "/ledger")

    few = queries()
    for _ in range(4):
        record(make.job("resolved", technician=ledger["tech_b"]), parts=1, fault=ledger["faults"]["bearing"])
    assert queries() == few


def read_csv(response) -> tuple[bytes, list[list[str]]]:
    raw = response.get_data()
    return raw, list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_csv_export_has_a_bom_a_header_and_exactly_the_filtered_rows(login, ledger):
    client = login("dispatcher")
    response = client.get("/ledger.csv?fault=%d" % ledger["faults"]["electrical"].id)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=service-ledger-") and disposition.endswith(".csv")
    raw, rows = read_csv(response)
    assert raw.startswith(b"\xef\xbb\xbf")
    assert rows[0] == ["Date submitted", "Job", "Customer", "Region", "Product model", "Serial number",
                       "Technician", "Fault category", "Outcome", "Parts replaced",
                       "Time on site (minutes)", "Late arrival", "Version"]
    body = rows[1:]
    assert [r[1] for r in body] == [ledger["jobs"]["corrected"].reference, ledger["jobs"]["north"].reference]
    north = body[1]
    assert north[0] == "2024-03-01 09:00"
    assert north[2] == "华北机械厂"  # Chinese intact
    assert north[7] == "Electrical › Power supply"
    assert north[8] == "Fixed" and north[9] == "2" and north[10] == "75" and north[12] == "1"
    assert body[0][8] == "Outside service scope / not our product" and body[0][12] == "2"


@pytest.mark.parametrize("app_config", [{"PAGE_SIZE": 1}])
def test_csv_export_is_not_paginated_and_is_in_the_readers_language(login, make, ledger, app_config,
                                                                     compiled_catalogue):
    reader = login(make.user("supervisor", locale="zh_CN"))
    raw, rows = read_csv(reader.get("/ledger.csv"))
    assert len(rows) == 1 + 3
    assert rows[0][0] == catalogue().get("Date submitted").string  # a translated header
    assert any("电气 › 电源" in row for row in rows)


def test_csv_cells_that_look_like_formulas_are_defused(login, make):
    job = make.job("resolved", customer=make.customer("=HYPERLINK(\"http://x\")"))
    record(job)
    raw, rows = read_csv(login("dispatcher").get("/ledger.csv"))
    assert rows[1][2] == "'=HYPERLINK(\"http://x\")"


@pytest.mark.parametrize("role, status", [("dispatcher", 200), ("reviewer", 200), ("supervisor", 200),
                                          ("technician", 403)])
def test_who_may_read_the_ledger(login, role, status):
    client = login(role)
    assert client.get("/ledger").status_code == status
    assert client.get("/ledger.csv").status_code == status
