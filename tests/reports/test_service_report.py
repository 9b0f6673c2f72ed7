"""The service report the customer keeps (policy 3.5, 3.6, 3.9): in the customer's language,
for the people on the job's side only, and only once the diagnosis is submitted."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
from markupsafe import escape

from fieldservice.extensions import db
from fieldservice.models import Diagnosis, FaultCategory, ReplacedPart
from fieldservice.models.diagnosis import DRAFT, FIXED, OUT_OF_SCOPE, SUBMITTED, SUPERSEDED
from tests.conftest import Client, Factory
from tests.test_i18n import _catalog as catalogue
from tests.test_i18n import compiled_catalogue  # noqa: F401  (a fixture: the .mo is up to date)

SUBMITTED_DT = datetime(2024, 5, 6, 10, 30, tzinfo=timezone.utc)


def zh(msgid: str) -> str:
    """The Chinese the report must show for `msgid`, as HTML."""
    return str(escape(catalogue().get(msgid).string))


def diagnosis_for(job, *, version: int = 1, status: str = SUBMITTED, outcome: str = FIXED,
                  supersedes: Diagnosis | None = None, **fields) -> Diagnosis:
    group = db.session.scalar(db.select(FaultCategory).where(FaultCategory.code == "electrical"))
    if group is None:
        group = FaultCategory(code="electrical", name_en="Electrical", name_zh="电气")
        FaultCategory(code="power_supply", name_en="Power supply", name_zh="电源", parent=group)
        db.session.add(group)
    values = dict(
        symptom="机器运行十分钟后停机", root_cause="电源模块过热", actions_taken="更换电源模块并清洁风扇",
        guidance="请保持通风口清洁，每月检查一次风扇。", contact_name="王经理",
        time_on_site_seconds=5400, customer_explanation="",
        parts=[ReplacedPart(position=0, part_number="PSU-24V", description="电源模块", quantity=1,
                            faulty_serial="F-001", replacement_serial="R-002")],
    )
    values.update(fields)
    diagnosis = Diagnosis(job=job, version=version, status=status, technician_id=job.technician_id,
                          fault_category=group.children[0], outcome=outcome, supersedes=supersedes,
                          submitted_dt=None if status == DRAFT else SUBMITTED_DT, **values)
    db.session.add(diagnosis)
    db.session.commit()
    return diagnosis


@pytest.fixture
def visit(make):
    """A resolved job of a Chinese-speaking customer with a submitted diagnosis."""
    technician = make.user("technician", display_name="Li Wei")
    job = make.job("resolved", technician=technician, customer=make.customer("华北机械厂", locale="zh_CN"))
    diagnosis_for(job)
    return job


def test_report_is_in_the_customers_language_whatever_the_viewer_reads(login, visit, compiled_catalogue):
    viewer = login("dispatcher")  # reads English (the test client's Accept-Language)
    response = viewer.get(f"/jobs/{visit.id}/report")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # The report itself: Chinese labels, Chinese field contents, Chinese fault names.
    for msgid in ("After-sales service report", "Root cause", "Parts replaced",
                  "Guidance given to the customer on use and assembly", "On-site person in charge", "Fixed"):
        assert zh(msgid) in page, msgid
    assert "After-sales service report" not in page and "Root cause" not in page
    assert "电气 › 电源" in page
    assert "华北机械厂" in page and visit.reference in page and "PSU-24V" in page
    assert "请保持通风口清洁" in page and "王经理" in page
    assert 'lang="zh-CN"' in page
    # The page around it stays in the viewer's language.
    assert '<html lang="en">' in page and "Back to the job" in page and ">Print<" in page
    # The print stylesheet and script (their minified builds: make assets).
    assert "css/print.min.css?v=" in page and "js/print.min.js?v=" in page


def test_english_customer_gets_an_english_report_even_for_a_chinese_viewer(login, make, compiled_catalogue):
    technician = make.user("technician", locale="zh_CN")
    job = make.job("resolved", technician=technician, customer=make.customer("Harbour Works", locale="en"))
    diagnosis_for(job, guidance="Keep the vents clear.")
    page = login(technician).get(f"/jobs/{job.id}/report").get_data(as_text=True)
    assert "After-sales service report" in page and "Root cause" in page
    assert "Electrical › Power supply" in page
    assert '<html lang="zh-CN">' in page and zh("Print") in page


def test_report_shows_the_dates_time_on_site_and_the_technician(login, visit):
    page = login("reviewer").get(f"/jobs/{visit.id}/report").get_data(as_text=True)
    assert "Li Wei" in page
    assert "2024" in page  # submitted (and logged, checked in) dates are printed
    assert "1 h 30 min" in page or "1 小时 30 分钟" in page or "30" in page


def test_out_of_scope_report_gives_the_explanation_and_names_a_foreign_product(login, make, compiled_catalogue):
    technician = make.user("technician")
    job = make.job("resolved", technician=technician, customer=make.customer("Harbour Works", locale="en"))
    job.product.made_by_us = False
    db.session.commit()
    diagnosis_for(job, outcome=OUT_OF_SCOPE, parts=[],
                  customer_explanation="This compressor is another maker's; we gave their service number.")
    page = login(technician).get(f"/jobs/{job.id}/report").get_data(as_text=True)
    assert "Outside service scope / not our product" in page
    assert "Explanation given to the customer" in page and "another maker&#39;s" in page
    assert "Not our product" in page
    assert "No parts were replaced." in page


def test_report_shows_the_current_version_of_a_corrected_record(login, make):
    technician = make.user("technician")
    job = make.job("resolved", technician=technician, customer=make.customer(locale="en"))
    first = diagnosis_for(job, status=SUPERSEDED, root_cause="Loose cable (first thought)")
    diagnosis_for(job, version=2, supersedes=first, root_cause="Overheated power supply (corrected)")
    page = login("dispatcher").get(f"/jobs/{job.id}/report").get_data(as_text=True)
    assert "Overheated power supply (corrected)" in page
    assert "Loose cable" not in page
    assert "Version 2" in page


def test_another_technician_gets_404_and_the_own_technician_gets_the_report(login, make, visit):
    assert login("technician").get(f"/jobs/{visit.id}/report").status_code == 404
    assert login(visit.technician).get(f"/jobs/{visit.id}/report").status_code == 200
    for role in ("dispatcher", "reviewer", "supervisor"):
        assert login(role).get(f"/jobs/{visit.id}/report").status_code == 200, role


def test_no_report_before_the_diagnosis_is_submitted(login, make):
    technician = make.user("technician")
    job = make.job("on_site", technician=technician, customer=make.customer(locale="en"))
    client = login(technician)
    response = client.get(f"/jobs/{job.id}/report")
    assert response.status_code == 404
    assert "no service report for" in response.get_data(as_text=True)
    diagnosis_for(job, status=DRAFT)
    assert client.get(f"/jobs/{job.id}/report").status_code == 404
    assert client.get("/jobs/999999/report").status_code == 404


def test_print_stylesheet_fits_the_report_on_an_a4_page(app):
    css = app.test_client().get("/static/css/print.css").get_data(as_text=True)
    assert "@page { size: A4; margin: 12mm; }" in css and "@media print" in css
    js = app.test_client().get("/static/js/print.js").get_data(as_text=True)
    assert "window.print()" in js


def test_signature_is_shown_through_a_presigned_url_of_the_private_store(s3_app):
    """Real SeaweedFS: the report's signature image is a short-lived signed link to the object."""
    from fieldservice.services import storage

    make = Factory()
    technician = make.user("technician")
    job = make.job("resolved", technician=technician, customer=make.customer(locale="en"))
    key = storage.new_key("signatures")
    storage.put(key, io.BytesIO(b"\x89PNG\r\n\x1a\nfake"), "image/png")
    diagnosis_for(job, signature_key=key)

    s3_app.test_client_class = Client
    client = s3_app.test_client()
    assert client.login(technician.username).status_code == 303
    page = client.get(f"/jobs/{job.id}/report").get_data(as_text=True)
    start = page.index('class="report-signature" src="') + len('class="report-signature" src="')
    url = page[start:page.index('"', start)].replace("&amp;", "&")
    assert urlsplit(url).path.endswith(key) and "X-Amz-Signature=" in url
    other = s3_app.test_client()
    other.login(make.user("technician").username)
    response = other.get(f"/jobs/{job.id}/report")
    assert response.status_code == 404 and "X-Amz-Signature" not in response.get_data(as_text=True)
