"""Inspection rules as plain functions (policy 4.3, 4.4)."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from fieldservice.blueprints.inspections import operations as ops
from fieldservice.extensions import db
from fieldservice.models import InspectionCheck, Job, Photo
from tests.inspections.conftest import DEFAULT_ITEMS


def start(job, lines=(("FL-8 Filler", 3), ("CV-50 Conveyor", 1))):
    inspection = ops.start_inspection(kind="site_delivery", inspector=job.technician, order_reference="PO-7781",
                                      lines=[ops.LineData(m, q) for m, q in lines], job=job)
    db.session.commit()
    return inspection


def answer_all(inspection, answer="pass"):
    for check in inspection.checks:
        if check.kind == "quantity":
            ops.answer_check(check, None, counted_quantity=check.expected_quantity)
        else:
            ops.answer_check(check, answer)


def add_photo(check):
    from fieldservice.services.photos import ingest_photo

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 30, 30)).save(out, "JPEG")
    out.seek(0)
    ingest_photo(out, uploader=check.inspection.inspector, job=check.inspection.job,
                 inspection_id=check.inspection_id, inspection_check_id=check.id, caption="Torn box")


def test_each_shipment_line_gets_its_own_checks_plus_the_consignment_items(delivery_job):
    inspection = start(delivery_job)
    per_line = [c for c in inspection.checks if c.line is not None]
    shipment = [c for c in inspection.checks if c.line is None]
    assert len(per_line) == 2 * 4 and [c.item_code for c in shipment] == ["consignment_packaging", "delivery_note"]
    quantity = [c for c in per_line if c.kind == "quantity"]
    assert [(c.line.product_model, c.expected_quantity) for c in quantity] == [("FL-8 Filler", 3), ("CV-50 Conveyor", 1)]
    assert ops.progress(inspection) == (0, 10)


def test_a_quantity_mismatch_fails_the_item_by_itself(delivery_job):
    inspection = start(delivery_job)
    quantity = next(c for c in inspection.checks if c.kind == "quantity")
    ops.answer_check(quantity, "pass", counted_quantity=2)
    assert quantity.answer == "fail"
    ops.answer_check(quantity, None, counted_quantity=3)
    assert quantity.answer == "pass"


def test_a_failed_item_needs_a_note_and_a_photo(s3_app, delivery_job):
    inspection = start(delivery_job)
    answer_all(inspection)
    torn = next(c for c in inspection.checks if c.item_code == "packaging_appearance")
    ops.answer_check(torn, "fail")
    with pytest.raises(ops.InspectionIncomplete) as refused:
        ops.submit_inspection(inspection, delivery_job.technician)
    assert refused.value.problems == {torn.id: ops.check_problem(torn)}
    assert "note" in str(refused.value.problems[torn.id])
    ops.answer_check(torn, "fail", note="Carton crushed at one corner.")
    assert "photo" in str(ops.check_problem(torn))
    add_photo(torn)
    assert ops.check_problem(torn) is None


def test_a_failed_inspection_opens_a_follow_up_request_linked_both_ways(s3_app, delivery_job):
    inspection = start(delivery_job)
    answer_all(inspection)
    quantity = next(c for c in inspection.checks if c.kind == "quantity")
    ops.answer_check(quantity, None, note="Only two machines arrived.", counted_quantity=2)
    add_photo(quantity)
    ops.submit_inspection(inspection, delivery_job.technician)
    db.session.commit()
    assert (inspection.status, inspection.result) == ("submitted", "failed")
    follow_up = inspection.follow_up_job
    assert follow_up.request_type == "inspection_follow_up" and follow_up.status == "new"
    assert "Only two machines arrived." in follow_up.description and "(2/3)" in follow_up.description
    assert ops.inspection_opening(follow_up) == inspection
    assert db.session.get(Job, delivery_job.id).status == "resolved"


def test_all_applicable_items_passed_means_passed(delivery_job):
    inspection = start(delivery_job)
    answer_all(inspection)
    ops.answer_check(next(c for c in inspection.checks if c.item_code == "delivery_note"), "na")
    ops.submit_inspection(inspection, delivery_job.technician)
    assert inspection.result == "passed" and inspection.follow_up_job is None


def test_unanswered_items_block_submission(delivery_job):
    inspection = start(delivery_job)
    with pytest.raises(ops.InspectionIncomplete) as refused:
        ops.submit_inspection(inspection, delivery_job.technician)
    assert len(refused.value.problems) == 10


def test_a_submitted_inspection_is_final_and_a_correction_references_it(delivery_job):
    inspection = start(delivery_job)
    answer_all(inspection)
    ops.submit_inspection(inspection, delivery_job.technician)
    db.session.commit()
    with pytest.raises(ops.InspectionRefused):
        ops.answer_check(inspection.checks[0], "fail", note="changed my mind")
    correction = ops.start_correction(inspection, delivery_job.technician)
    db.session.commit()
    assert correction.corrects_id == inspection.id and correction.status == "draft"
    assert [l.product_model for l in correction.lines] == [l.product_model for l in inspection.lines]
    assert db.session.get(InspectionCheck, inspection.checks[0].id).answer == "pass"


def test_changing_the_template_leaves_old_inspections_as_they_were(delivery_job, make):
    inspection = start(delivery_job)
    labels_before = [(c.item_code, c.label_en) for c in inspection.checks]
    edited = [dict(item) for item in DEFAULT_ITEMS]
    edited[0]["label_en"] = "Model and variant match the order"
    edited.append({"scope": "line", "kind": "check", "code": "serial_matches",
                   "label_en": "Serial numbers match", "label_zh": "序列号一致"})
    new = ops.new_template_version(edited, make.user("supervisor"))
    db.session.commit()
    db.session.expire_all()
    assert new.version == 2 and ops.active_template().id == new.id
    old = db.session.get(type(inspection), inspection.id)
    assert old.template.version == 1
    assert [(c.item_code, c.label_en) for c in old.checks] == labels_before
    later = ops.start_inspection(kind="centre_receipt", inspector=delivery_job.technician,
                                 order_reference="SHIP-2", lines=[ops.LineData("PX-200", 1)])
    assert [c.item_code for c in later.checks][:5] == ["model_matches", "quantity", "markings_labels",
                                                        "packaging_appearance", "serial_matches"]
    assert later.checks[0].label_en == "Model and variant match the order"


def test_a_centre_receipt_needs_only_an_order_reference(checklist, make):
    receiver = make.user("technician")
    inspection = ops.start_inspection(kind="centre_receipt", inspector=receiver, order_reference="SHIP-0042",
                                      lines=[ops.LineData("PX-200 Press", 2)])
    assert inspection.job is None and inspection.customer is None and len(inspection.checks) == 6
    with pytest.raises(ops.InspectionRefused):
        ops.start_inspection(kind="centre_receipt", inspector=receiver, order_reference=" ",
                             lines=[ops.LineData("PX-200 Press", 2)])


def test_failure_counts_per_item_and_per_model(s3_app, delivery_job):
    inspection = start(delivery_job)
    answer_all(inspection)
    for check in inspection.checks:
        if check.item_code == "packaging_appearance" and check.line.product_model == "FL-8 Filler":
            ops.answer_check(check, "fail", note="Crushed")
            add_photo(check)
    ops.submit_inspection(inspection, delivery_job.technician)
    db.session.commit()
    counts = ops.failure_counts()
    assert counts == {"per_item": [("packaging_appearance", 1)], "per_model": [("FL-8 Filler", 1)]}
    assert db.session.scalar(select(Photo.inspection_id)) == inspection.id


@pytest.fixture(autouse=True)
def _english_messages(app):
    """Refusal messages are lazily translated: read them as an English request would."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield
