"""The inspection pages (policy 4.3, 4.4): start from a delivery job or on receipt at the centre,
run the checklist over htmx, submit, correct, read, list; who may do what."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Inspection, InspectionCheck, Job, Photo

LINES = (("FL-8 Filler", 3), ("CV-50 Conveyor", 1))


def start_form(reference="PO-7781", lines=LINES) -> dict:
    data = {"order_reference": reference}
    for i, (model, quantity) in enumerate(lines):
        data[f"lines-{i}-product_model"] = model
        data[f"lines-{i}-expected_quantity"] = str(quantity)
    return data


def newest_inspection() -> Inspection:
    db.session.expire_all()
    return db.session.scalar(select(Inspection).order_by(Inspection.id.desc()))


def start_site(c, job, **kw) -> Inspection:
    response = c.post_form(f"/jobs/{job.id}/inspection", start_form(**kw))
    assert response.status_code == 303, response.get_data(as_text=True)[:600]
    inspection = newest_inspection()
    assert response.headers["Location"].endswith(f"/inspections/{inspection.id}")
    return inspection


def answer(c, inspection, check, **data):
    return c.post_form(f"/inspections/{inspection.id}/checks/{check.id}", data, htmx_target=f"check-{check.id}")


def answer_all_passing(c, inspection, skip=()):
    for check in inspection.checks:
        if check.id in skip:
            continue
        if check.kind == "quantity":
            response = answer(c, inspection, check, counted_quantity=str(check.expected_quantity))
        else:
            response = answer(c, inspection, check, answer="pass")
        assert response.status_code == 200, response.get_data(as_text=True)[:400]


def first(inspection, code) -> InspectionCheck:
    return next(c for c in inspection.checks if c.item_code == code)


def jpeg() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 30, 30)).save(out, "JPEG")
    out.seek(0)
    return out


def upload(c, inspection, check, htmx=True):
    url = f"/inspections/{inspection.id}/checks/{check.id}/photos"
    data = {"photo": (jpeg(), "torn-box.jpg"), "caption": "Torn box"}
    if htmx:
        return c.post(url, data=data, headers={"HX-Request": "true", "X-CSRFToken": c.csrf})
    return c.post_form(url, data)


def snapshot(inspection_id: int) -> tuple:
    db.session.expire_all()
    inspection = db.session.get(Inspection, inspection_id)
    checks = tuple((c.id, c.answer, c.note, c.counted_quantity) for c in inspection.checks)
    return (inspection.status, inspection.result, inspection.submitted_dt, inspection.follow_up_job_id, checks,
            db.session.scalar(select(func.count(Photo.id))), db.session.scalar(select(func.count(Job.id))),
            db.session.scalar(select(func.count(AuditEvent.id))))


# --- starting ----------------------------------------------------------------------------


def test_technician_starts_a_delivery_inspection_from_their_job_on_site(login, delivery_job):
    c = login(delivery_job.technician)
    job_page = c.get(f"/jobs/{delivery_job.id}").get_data(as_text=True)
    assert f'href="/jobs/{delivery_job.id}/inspection/new"' in job_page and "Delivery inspection" in job_page

    form = c.get(f"/jobs/{delivery_job.id}/inspection/new")
    html = form.get_data(as_text=True)
    assert form.status_code == 200
    assert 'for="order_reference"' in html and 'for="lines-0-product_model"' in html
    assert 'value="PX-200"' in html  # the job's product model, pre-filled

    inspection = start_site(c, delivery_job)
    assert (inspection.kind, inspection.job_id, inspection.customer_id, inspection.order_reference) == (
        "site_delivery", delivery_job.id, delivery_job.customer_id, "PO-7781")
    assert [(l.product_model, l.expected_quantity) for l in inspection.lines] == list(LINES)
    page = c.get(f"/inspections/{inspection.id}").get_data(as_text=True)
    assert "FL-8 Filler × 3" in page and "Whole consignment" in page and "0 of 10 answered — 10 left" in page

    # The job page now continues that inspection; starting again goes to the same draft.
    job_page = c.get(f"/jobs/{delivery_job.id}").get_data(as_text=True)
    assert f'href="/inspections/{inspection.id}"' in job_page
    again = c.post_form(f"/jobs/{delivery_job.id}/inspection", start_form())
    assert again.status_code == 303 and again.headers["Location"].endswith(f"/inspections/{inspection.id}")
    assert db.session.scalar(select(func.count(Inspection.id))) == 1


def test_lines_are_added_and_removed_over_htmx(login, delivery_job):
    c = login(delivery_job.technician)
    response = c.post_form(f"/jobs/{delivery_job.id}/inspection", {**start_form(lines=LINES[:1]), "action": "add_line"},
                           htmx_target="inspection-lines")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="inspection-lines"' in html and "<html" not in html
    assert 'for="lines-1-product_model"' in html and 'value="FL-8 Filler"' in html
    response = c.post_form(f"/jobs/{delivery_job.id}/inspection", {**start_form(), "action": "remove_line-0"},
                           htmx_target="inspection-lines")
    html = response.get_data(as_text=True)
    assert 'value="CV-50 Conveyor"' in html and 'value="FL-8 Filler"' not in html
    assert db.session.scalar(select(func.count(Inspection.id))) == 0


@pytest.mark.parametrize("case", ["not_on_site", "not_a_delivery_job"])
def test_starting_is_refused_off_site_or_from_another_kind_of_job(login, make, checklist, case):
    technician = make.user("technician")
    job = (make.job("assigned", technician=technician, request_type="delivery_inspection") if case == "not_on_site"
           else make.job("on_site", technician=technician))
    c = login(technician)
    page = c.get(f"/jobs/{job.id}/inspection/new").get_data(as_text=True)
    assert ("Check in on site" in page) if case == "not_on_site" else ("starts from a delivery-inspection job" in page)
    response = c.post_form(f"/jobs/{job.id}/inspection", start_form())
    assert response.status_code == 409
    assert db.session.scalar(select(func.count(Inspection.id))) == 0


def test_another_technicians_job_is_not_found(login, make, delivery_job):
    c = login(make.user("technician"))
    assert c.get(f"/jobs/{delivery_job.id}/inspection/new").status_code == 404
    assert c.post_form(f"/jobs/{delivery_job.id}/inspection", start_form()).status_code == 404
    assert db.session.scalar(select(func.count(Inspection.id))) == 0


def test_receipt_inspection_at_the_centre_starts_from_a_reference_alone(login, make, checklist):
    c = login("technician")
    assert 'for="order_reference"' in c.get("/inspections/new").get_data(as_text=True)
    missing = c.post_form("/inspections/new", start_form(reference=""))
    assert missing.status_code == 422 and "Enter the order or shipment reference." in missing.get_data(as_text=True)

    response = c.post_form("/inspections/new", start_form(reference="SH-2024-0091", lines=[("FL-8 Filler", 2)]))
    assert response.status_code == 303
    inspection = newest_inspection()
    assert (inspection.kind, inspection.job_id, inspection.customer_id, inspection.inspector_id) == (
        "centre_receipt", None, None, c.user.id)
    assert len(inspection.checks) == 4 + 2


# --- running the checklist ---------------------------------------------------------------


def test_an_answer_over_htmx_returns_the_item_and_the_progress_out_of_band(login, delivery_job):
    c = login(delivery_job.technician)
    inspection = start_site(c, delivery_job)
    check = first(inspection, "model_matches")

    response = answer(c, inspection, check, answer="pass")

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    # The inside of the item's form (the form itself stays in the page) ...
    assert "<form" not in html and f'id="check-{check.id}-pass"' in html and "check-state-pass" in html
    # ... and the progress, out of band.
    assert re.search(r'id="inspection-progress"[^>]*hx-swap-oob="true"', html)
    assert "1 of 10 answered — 9 left" in html
    assert response.headers.get("FS-Draft") == "done"  # the phone's copy of this item can go
    assert f'id="check-{check.id}-pass" name="answer" value="pass" checked' in html
    assert f'id="check-{check.id}-photos"' not in html  # nothing to change there
    db.session.expire_all()
    assert db.session.get(InspectionCheck, check.id).answer == "pass"

    # A failed item shows, in the fragment the answer gets back, the note and (out of band)
    # the photo uploader.
    response = answer(c, inspection, check, answer="fail")
    html = response.get_data(as_text=True)
    assert "What is wrong (required)" in html and f'for="check-{check.id}-note"' in html
    assert re.search(rf'id="check-{check.id}-photos"[^>]*hx-swap-oob="true"', html)
    assert f'action="/inspections/{inspection.id}/checks/{check.id}/photos"' in html
    # Answering again while it stays failed leaves the uploader (and a photo being picked) alone.
    html = answer(c, inspection, check, answer="fail", note="Wrong model").get_data(as_text=True)
    assert f'id="check-{check.id}-photos"' not in html

    # The note saves into its own status line (the item is not replaced under the finger).
    response = c.post_form(f"/inspections/{inspection.id}/checks/{check.id}", {"answer": "fail", "note": "Wrong model"},
                           htmx_target=f"check-{check.id}-note-status")
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<small id="check-{check.id}-note-status"') and "Note saved." in html
    assert 'hx-swap-oob="true"' in html


def test_without_javascript_an_item_is_a_plain_form(login, delivery_job):
    c = login(delivery_job.technician)
    inspection = start_site(c, delivery_job)
    check = first(inspection, "markings_labels")
    page = c.get(f"/inspections/{inspection.id}").get_data(as_text=True)
    assert f'action="/inspections/{inspection.id}/checks/{check.id}"' in page and "<noscript>" in page
    assert f'data-draft="inspection-{inspection.id}-check-{check.id}"' in page
    response = c.post_form(f"/inspections/{inspection.id}/checks/{check.id}", {"answer": "na"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/inspections/{inspection.id}#check-{check.id}")
    db.session.expire_all()
    assert db.session.get(InspectionCheck, check.id).answer == "na"


def test_a_quantity_mismatch_fails_the_item_by_itself_through_the_page(login, delivery_job):
    c = login(delivery_job.technician)
    inspection = start_site(c, delivery_job)
    quantity = first(inspection, "quantity")
    page = c.get(f"/inspections/{inspection.id}").get_data(as_text=True)
    assert "Expected: <strong>3</strong>" in page and f'for="check-{quantity.id}-counted">Counted<' in page

    response = answer(c, inspection, quantity, answer="pass", counted_quantity="2")

    html = response.get_data(as_text=True)
    assert "Counted 2, expected 3: the quantity does not match." in html and "What is wrong (required)" in html
    db.session.expire_all()
    assert db.session.get(InspectionCheck, quantity.id).answer == "fail"
    response = answer(c, inspection, quantity, counted_quantity="three")
    assert response.status_code == 422 and "whole number" in response.get_data(as_text=True)


def test_a_failed_item_without_note_or_photo_is_refused_at_submit(s3_app, login, delivery_job):
    c = login(delivery_job.technician)
    inspection = start_site(c, delivery_job)
    packaging = first(inspection, "packaging_appearance")
    answer_all_passing(c, inspection, skip={packaging.id})
    answer(c, inspection, packaging, answer="fail")

    response = c.post_form(f"/inspections/{inspection.id}/submit")

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<p class="error" id="check-{packaging.id}-problem">A failed item needs a note saying what is wrong and at least one photo.</p>' in html
    answer(c, inspection, packaging, answer="fail", note="Carton crushed on one corner")
    html = c.post_form(f"/inspections/{inspection.id}/submit").get_data(as_text=True)
    assert f'id="check-{packaging.id}-problem">A failed item needs at least one photo.</p>' in html
    assert newest_inspection().status == "draft"


def test_unanswered_items_are_marked_at_submit(login, delivery_job):
    c = login(delivery_job.technician)
    inspection = start_site(c, delivery_job)
    response = c.post_form(f"/inspections/{inspection.id}/submit")
    assert response.status_code == 422
    assert response.get_data(as_text=True).count("Not answered yet.") == 10


def test_failed_inspection_opens_a_follow_up_the_dispatcher_sees_and_links_both_ways(s3_app, login, make, delivery_job):
    c = login(delivery_job.technician)
    inspection = start_site(c, delivery_job)
    packaging = first(inspection, "packaging_appearance")
    answer_all_passing(c, inspection, skip={packaging.id})
    answer(c, inspection, packaging, answer="fail", note="Carton crushed on one corner")

    uploaded = upload(c, inspection, packaging)
    assert uploaded.status_code == 201 and 'class="photo-tile"' in uploaded.get_data(as_text=True)
    photo = db.session.scalar(select(Photo))
    assert (photo.inspection_id, photo.inspection_check_id, photo.job_id) == (inspection.id, packaging.id, delivery_job.id)

    response = c.post_form(f"/inspections/{inspection.id}/submit")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/inspections/{inspection.id}")

    inspection = newest_inspection()
    follow_up = inspection.follow_up_job
    assert inspection.result == "failed" and follow_up.request_type == "inspection_follow_up"
    assert db.session.get(Job, delivery_job.id).status == "resolved"
    page = c.get(f"/inspections/{inspection.id}").get_data(as_text=True)
    assert "Failed" in page and f'href="/jobs/{follow_up.id}"' in page and "Carton crushed on one corner" in page
    assert f'/photos/{photo.id}/thumb' in page and "Submit inspection" not in page

    dispatcher = login("dispatcher")
    assert follow_up.reference in dispatcher.get("/dispatch/queue").get_data(as_text=True)
    job_page = dispatcher.get(f"/jobs/{follow_up.id}").get_data(as_text=True)
    assert "Opened by failed inspection" in job_page and f'href="/inspections/{inspection.id}">{inspection.reference}' in job_page
    assert dispatcher.get(f"/photos/{photo.id}/thumb").status_code == 302


def test_a_submitted_inspection_refuses_crafted_posts_and_stays_as_it_was(s3_app, login, delivery_job):
    c = login(delivery_job.technician)
    inspection = start_site(c, delivery_job)
    answer_all_passing(c, inspection)
    assert c.post_form(f"/inspections/{inspection.id}/submit").status_code == 303
    before = snapshot(inspection.id)
    check = first(inspection, "model_matches")

    refused = answer(c, inspection, check, answer="fail", note="changed afterwards")
    assert refused.status_code == 409 and "submitted and is final" in refused.get_data(as_text=True)
    assert refused.headers["HX-Retarget"] == "#messages"
    plain = c.post_form(f"/inspections/{inspection.id}/checks/{check.id}", {"answer": "fail"})
    assert plain.status_code == 409 and "submitted and is final" in plain.get_data(as_text=True)
    photo = upload(c, inspection, check)
    assert photo.status_code == 409 and photo.mimetype == "text/plain"
    assert upload(c, inspection, check, htmx=False).status_code == 409
    assert c.post_form(f"/inspections/{inspection.id}/submit").status_code == 409

    assert snapshot(inspection.id) == before


def test_a_correction_is_a_new_inspection_that_references_the_first(login, delivery_job):
    c = login(delivery_job.technician)
    inspection = start_site(c, delivery_job)
    answer_all_passing(c, inspection)
    c.post_form(f"/inspections/{inspection.id}/submit")
    assert "Correct this inspection" in c.get(f"/inspections/{inspection.id}").get_data(as_text=True)

    response = c.post_form(f"/inspections/{inspection.id}/correct")

    correction = newest_inspection()
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/inspections/{correction.id}")
    assert correction.corrects_id == inspection.id and correction.status == "draft"
    page = c.get(f"/inspections/{correction.id}").get_data(as_text=True)
    assert "Corrects" in page and inspection.reference in page and "Submit inspection" in page
    original = c.get(f"/inspections/{inspection.id}").get_data(as_text=True)
    assert "Corrected by" in original and correction.reference in original
    # A second tap continues the same correction.
    again = c.post_form(f"/inspections/{inspection.id}/correct")
    assert again.headers["Location"].endswith(f"/inspections/{correction.id}")
    assert c.post_form(f"/inspections/{correction.id}/correct").status_code == 409  # a draft: nothing to correct


def test_a_centre_receipt_photo_is_seen_through_its_inspection(s3_app, login, make, checklist):
    c = login("technician")
    c.post_form("/inspections/new", start_form(reference="SH-77", lines=[("FL-8 Filler", 1)]))
    inspection = newest_inspection()
    check = first(inspection, "markings_labels")
    answer(c, inspection, check, answer="fail", note="Label missing")
    assert upload(c, inspection, check).status_code == 201
    photo = db.session.scalar(select(Photo))
    assert photo.job_id is None and photo.inspection_check_id == check.id
    assert c.get(f"/photos/{photo.id}/thumb").status_code == 302
    assert login("dispatcher").get(f"/photos/{photo.id}/thumb").status_code == 302
    assert login("technician").get(f"/photos/{photo.id}/thumb").status_code == 404


# --- who may do what ---------------------------------------------------------------------


def test_technicians_run_them_dispatchers_supervisors_and_reviewers_read_them(login, make, delivery_job):
    c = login(delivery_job.technician)
    inspection = start_site(c, delivery_job)
    check = first(inspection, "model_matches")
    answer(c, inspection, check, answer="pass")

    for role in ("dispatcher", "supervisor", "reviewer"):
        reader = login(role)
        page = reader.get(f"/inspections/{inspection.id}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and "Not submitted yet: 1 of 10 answered" in html, role
        assert "Submit inspection" not in html and "<noscript>" not in html, role
        assert inspection.reference in reader.get("/inspections").get_data(as_text=True), role
    dispatcher = login("dispatcher")
    assert answer(dispatcher, inspection, check, answer="fail").status_code == 403
    assert dispatcher.post_form(f"/inspections/{inspection.id}/submit").status_code == 403
    assert login("reviewer").post_form("/inspections/new", start_form()).status_code == 403

    stranger = login(make.user("technician"))
    assert stranger.get(f"/inspections/{inspection.id}").status_code == 404
    assert answer(stranger, inspection, check, answer="fail").status_code == 404
    assert inspection.reference not in stranger.get("/inspections").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(InspectionCheck, check.id).answer == "pass"


def test_the_list_filters_by_reference_result_and_kind(login, make, delivery_job):
    c = login(delivery_job.technician)
    site = start_site(c, delivery_job, reference="PO-7781")
    answer_all_passing(c, site)
    c.post_form(f"/inspections/{site.id}/submit")
    c.post_form("/inspections/new", start_form(reference="SH-2024-0091"))
    receipt = newest_inspection()

    reader = login("supervisor")
    both = reader.get("/inspections").get_data(as_text=True)
    assert site.reference in both and receipt.reference in both

    fragment = reader.htmx_get("/inspections?reference=0091", "inspections-results")
    html = fragment.get_data(as_text=True)
    assert 'id="inspections-results"' in html and "<html" not in html
    assert receipt.reference in html and site.reference not in html
    passed = reader.get("/inspections?result=passed").get_data(as_text=True)
    assert site.reference in passed and receipt.reference not in passed
    drafts = reader.get("/inspections?result=draft&kind=centre_receipt").get_data(as_text=True)
    assert receipt.reference in drafts and site.reference not in drafts
    assert site.reference not in reader.get("/inspections?from=2999-01-01").get_data(as_text=True)
