"""Claims opened from a failed inspection (with or without a job), photos taken for the claim
itself, and the claims listed on the job and inspection pages (policy 3.7, 4.3, 4.4)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from fieldservice.blueprints.claims import operations as ops
from fieldservice.blueprints.inspections import operations as inspections
from fieldservice.extensions import db
from fieldservice.models import Claim, ClaimEvidence, Photo
from fieldservice.services import storage
from tests.claims.conftest import jpeg
from tests.inspections.conftest import DEFAULT_ITEMS

CLAIM_FORM = {"claim_type": "transport_damage", "product_model": "FL-8 Filler", "serial": "", "amount": "800",
              "currency": "CNY", "description": "Crushed corner, filler bent.", "part_whereabouts": "received_at_centre",
              "tracking_number": ""}


@pytest.fixture
def failed_receipt(s3_app, make):
    """A centre receipt inspection (no job) for a known customer, submitted as failed."""
    inspections.new_template_version(DEFAULT_ITEMS, make.user("supervisor"))
    receiver = make.user("technician")
    customer = make.customer("Hengda Foods")
    inspection = inspections.start_inspection(kind="centre_receipt", inspector=receiver, order_reference="SHIP-0042",
                                              lines=[inspections.LineData("FL-8 Filler", 1)], customer=customer)
    db.session.flush()
    for check in inspection.checks:
        if check.kind == "quantity":
            inspections.answer_check(check, None, counted_quantity=check.expected_quantity)
        else:
            inspections.answer_check(check, "pass")
    torn = next(c for c in inspection.checks if c.item_code == "packaging_appearance")
    inspections.answer_check(torn, "fail", note="Corner crushed")
    from fieldservice.services.photos import ingest_photo

    ingest_photo(jpeg(), uploader=receiver, job=None, inspection_id=inspection.id, inspection_check_id=torn.id)
    inspections.submit_inspection(inspection, receiver)
    db.session.commit()
    return receiver, inspection


def claim_id_from(response) -> int:
    return int(re.search(r"/claims/(\d+)$", response.headers["Location"]).group(1))


def test_the_inspector_opens_a_claim_from_a_failed_receipt_without_a_job(failed_receipt, login):
    receiver, inspection = failed_receipt
    assert inspection.result == "failed" and inspection.job_id is None
    c = login(receiver)
    page = c.get(f"/inspections/{inspection.id}").get_data(as_text=True)
    assert f"/inspections/{inspection.id}/claims/new" in page
    form = c.get(f"/inspections/{inspection.id}/claims/new").get_data(as_text=True)
    assert 'value="FL-8 Filler"' in form and "Hengda Foods" in form

    response = c.post_form(f"/inspections/{inspection.id}/claims/new", CLAIM_FORM)
    assert response.status_code == 303, response.get_data(as_text=True)[:400]
    claim = db.session.get(Claim, claim_id_from(response))
    assert (claim.inspection_id, claim.job_id, claim.customer.name) == (inspection.id, None, "Hengda Foods")

    claim_page = c.get(f"/claims/{claim.id}").get_data(as_text=True)
    inspection_photo = db.session.scalar(select(Photo).where(Photo.inspection_id == inspection.id))
    assert "Add as evidence" in claim_page and f'value="{inspection_photo.id}"' in claim_page
    assert f'action="/claims/{claim.id}/photos"' in claim_page  # photos for the claim, though there is no job
    # The inspection page lists the claim.
    assert claim.reference in c.get(f"/inspections/{inspection.id}").get_data(as_text=True)


def test_no_claim_from_a_passed_or_unsubmitted_inspection_or_someone_elses(failed_receipt, login, make):
    receiver, inspection = failed_receipt
    other = make.user("technician")
    assert login(other).post_form(f"/inspections/{inspection.id}/claims/new", CLAIM_FORM).status_code == 404
    inspection.result = "passed"
    db.session.commit()
    refused = login(receiver).post_form(f"/inspections/{inspection.id}/claims/new", CLAIM_FORM)
    assert refused.status_code == 422 and "failed inspection" in refused.get_data(as_text=True)
    assert db.session.scalar(select(Claim.id)) is None


def test_a_photo_taken_for_the_claim_is_stored_and_becomes_evidence_in_one_step(failed_receipt, login):
    receiver, inspection = failed_receipt
    claim = ops.open_claim(receiver, ops.ClaimData(claim_type="transport_damage", description="Bent."),
                           inspection=inspection)
    db.session.commit()
    c = login(receiver)
    answer = c.post(f"/claims/{claim.id}/photos", data={"photo": (jpeg((10, 10, 200)), "bent.jpg"),
                                                        "client_key": "k-claim-1"},
                    headers={"HX-Request": "true", "X-CSRFToken": c.fetch_csrf(f"/claims/{claim.id}")},
                    content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.headers["HX-Trigger"] == "claim-evidence-changed"
    db.session.expire_all()
    evidence = db.session.scalars(select(ClaimEvidence).where(ClaimEvidence.claim_id == claim.id)).all()
    assert len(evidence) == 1
    photo = evidence[0].photo
    assert photo.inspection_id == inspection.id and photo.job_id is None
    assert storage.get(photo.original_key)[:2] == b"\xff\xd8"  # really in SeaweedFS (a JPEG)
    # The evidence list reloads itself as a fragment.
    fragment = c.htmx_get(f"/claims/{claim.id}", "claim-evidence").get_data(as_text=True)
    assert "<html" not in fragment and f"/photos/{photo.id}/thumb" in fragment

    # A retry of the same upload (same client key) adds nothing.
    again = c.post(f"/claims/{claim.id}/photos", data={"photo": (jpeg((10, 10, 200)), "bent.jpg"),
                                                       "client_key": "k-claim-1"},
                   headers={"HX-Request": "true", "X-CSRFToken": c.fetch_csrf(f"/claims/{claim.id}")},
                   content_type="multipart/form-data")
    assert again.status_code == 201
    assert db.session.scalar(select(db.func.count(ClaimEvidence.id))) == 1


def test_after_submit_a_new_photo_for_the_claim_is_refused_and_nothing_is_stored(failed_receipt, login):
    receiver, inspection = failed_receipt
    claim = ops.open_claim(receiver, ops.ClaimData(claim_type="transport_damage", description="Bent."),
                           inspection=inspection)
    photo = db.session.scalar(select(Photo).where(Photo.inspection_id == inspection.id))
    ops.add_evidence(claim, photo, receiver)
    ops.submit_claim(claim, receiver)
    db.session.commit()
    photos_before = db.session.scalar(select(db.func.count(Photo.id)))
    c = login(receiver)
    answer = c.post(f"/claims/{claim.id}/photos", data={"photo": (jpeg(), "late.jpg")},
                    headers={"HX-Request": "true", "X-CSRFToken": c.fetch_csrf(f"/claims/{claim.id}")},
                    content_type="multipart/form-data")
    assert answer.status_code == 409
    assert db.session.scalar(select(db.func.count(Photo.id))) == photos_before


def test_the_job_page_lists_the_claims_its_viewer_may_see(s3_app, login, make):
    from tests.claims.conftest import photo_of
    from fieldservice.models import Diagnosis

    technician = make.user("technician")
    job = make.job("resolved", technician=technician)
    diagnosis = Diagnosis(job=job, version=1, status="submitted", technician_id=technician.id, symptom="x",
                          root_cause="y", actions_taken="z", outcome="fixed", contact_name="Li",
                          submitted_dt=job.created_dt)
    db.session.add(diagnosis)
    db.session.commit()
    claim = ops.open_claim(technician, ops.ClaimData(claim_type="refund", description="Broken."), diagnosis=diagnosis)
    ops.add_evidence(claim, photo_of(job, technician), technician)
    db.session.commit()
    assert claim.reference in login(technician).get(f"/jobs/{job.id}").get_data(as_text=True)
    assert claim.reference in login("reviewer").get(f"/jobs/{job.id}").get_data(as_text=True)
    # A dispatcher who neither logged the request nor opened the claim does not see it listed.
    assert claim.reference not in login("dispatcher").get(f"/jobs/{job.id}").get_data(as_text=True)
