"""On-site diagnosis (policy 3.3, 3.6, 3.9, 3.10): drafts, sign-off in S3, submission, corrections."""
from __future__ import annotations

import io
import re
import urllib.request

import pytest
from PIL import Image
from sqlalchemy import func, select

from fieldservice.blueprints.diagnosis import operations as ops
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Diagnosis, FaultCategory, Job
from fieldservice.services import storage


@pytest.fixture
def fault(s3_app):
    group = FaultCategory(code="mechanical", name_en="Mechanical", name_zh="机械")
    leaf = FaultCategory(code="bearing", name_en="Bearing", name_zh="轴承", parent=group)
    db.session.add_all([group, leaf])
    db.session.commit()
    return leaf


@pytest.fixture
def on_site(s3_app, login, make):
    tech = login("technician", display_name="Li Ming")
    job = make.job("on_site", technician=tech.user)
    return tech, job


def png_signature() -> bytes:
    image = Image.new("RGBA", (600, 240), (255, 255, 255, 0))
    for x in range(50, 550):
        image.putpixel((x, 120 + (x % 30) - 15), (0, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def fields(fault, **overrides) -> dict:
    data = {
        "symptom": "Loud grinding at high speed.", "fault_category_id": str(fault.id),
        "root_cause": "Worn main bearing.", "actions_taken": "Replaced the main bearing.",
        "guidance": "Grease the bearing every 500 hours.", "outcome": "fixed",
        "customer_explanation": "", "contact_name": "Mr Zhang",
        "parts-0-part_number": "BRG-6204", "parts-0-description": "Bearing 6204", "parts-0-quantity": "2",
        "parts-0-faulty_serial": "OLD-1", "parts-0-replacement_serial": "NEW-1", "parts-0-kept_as_evidence": "y",
    }
    data.update(overrides)
    return data


def sign(tech, job):
    response = tech.post_form(f"/jobs/{job.id}/diagnosis/signature",
                              {"signature": (io.BytesIO(png_signature()), "signature.png")},
                              htmx_target="signature-block", content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def current(job) -> Diagnosis:
    db.session.expire_all()
    return db.session.scalar(select(Diagnosis).where(Diagnosis.job_id == job.id).order_by(Diagnosis.version.desc()))


def test_draft_saves_as_the_technician_types_and_comes_back_on_reload(on_site, fault):
    tech, job = on_site
    response = tech.post_form(f"/jobs/{job.id}/diagnosis/draft", {"symptom": "Grinding noise", "outcome": "fixed"},
                              htmx_target="draft-status")
    assert response.status_code == 200
    assert "Draft saved at" in response.get_data(as_text=True)
    page = tech.get(f"/jobs/{job.id}/diagnosis").get_data(as_text=True)
    assert "Grinding noise" in page
    assert re.search(r'<input checked[^>]*value="fixed"', page)
    assert current(job).status == "draft"


def test_part_rows_are_added_and_removed_in_place(on_site, fault):
    tech, job = on_site
    added = tech.post_form(f"/jobs/{job.id}/diagnosis", {**fields(fault), "action": "add_part"}, htmx_target="parts")
    html = added.get_data(as_text=True)
    assert html.lstrip().startswith('<fieldset id="parts">')
    assert "Part 2" in html and 'value="BRG-6204"' in html
    assert len(current(job).parts) == 2
    form = {**fields(fault), "parts-1-part_number": "BELT-9", "parts-1-quantity": "1", "action": "remove_part-0"}
    removed = tech.post_form(f"/jobs/{job.id}/diagnosis", form, htmx_target="parts").get_data(as_text=True)
    assert "BRG-6204" not in removed and 'value="BELT-9"' in removed
    assert [p.part_number for p in current(job).parts] == ["BELT-9"]


def test_incomplete_submission_is_refused_field_by_field_and_the_draft_is_kept(on_site, fault):
    tech, job = on_site
    response = tech.post_form(f"/jobs/{job.id}/diagnosis",
                              {**fields(fault, root_cause="", contact_name=""), "action": "submit"},
                              htmx_target="diagnosis-form")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.count("Required before submitting.") == 2
    assert "The on-site contact signs before you submit." in html
    assert 'value="BRG-6204"' in html and "Worn main bearing" not in html
    diagnosis = current(job)
    assert diagnosis.status == "draft" and diagnosis.actions_taken == "Replaced the main bearing."
    db.session.refresh(job)
    assert job.status == "on_site"


def test_out_of_scope_needs_the_explanation_given_to_the_customer(on_site, fault):
    """Policy 3.9: explain patiently; never turn the customer away."""
    tech, job = on_site
    sign(tech, job)
    response = tech.post_form(f"/jobs/{job.id}/diagnosis", {**fields(fault, outcome="out_of_scope"), "action": "submit"},
                              htmx_target="diagnosis-form")
    assert response.status_code == 422
    assert "Write down what you explained to the customer." in response.get_data(as_text=True)


def test_submitting_locks_the_record_resolves_the_job_and_records_time_on_site(on_site, fault):
    tech, job = on_site
    sign(tech, job)
    response = tech.post_form(f"/jobs/{job.id}/diagnosis", {**fields(fault), "action": "submit"},
                              htmx_target="diagnosis-form")
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].endswith(f"/jobs/{job.id}")
    assert response.headers["FS-Draft"] == "done"
    diagnosis = current(job)
    assert diagnosis.status == "submitted" and diagnosis.time_on_site_seconds >= 0
    assert diagnosis.parts[0].kept_as_evidence and diagnosis.parts[0].quantity == 2
    assert storage.head(diagnosis.signature_key)["ContentType"] == "image/png"
    job = db.session.get(Job, job.id)
    assert job.status == "resolved"
    # a crafted POST after submission changes nothing
    refused = tech.post_form(f"/jobs/{job.id}/diagnosis/draft", fields(fault, root_cause="Changed later"),
                             htmx_target="draft-status")
    assert refused.status_code == 409
    assert current(job).root_cause == "Worn main bearing."
    record = tech.get(f"/jobs/{job.id}/diagnosis").get_data(as_text=True)
    assert "Worn main bearing." in record and "<textarea" not in record


def test_needs_parts_logs_a_follow_up_visit(on_site, fault):
    tech, job = on_site
    sign(tech, job)
    tech.post_form(f"/jobs/{job.id}/diagnosis", {**fields(fault, outcome="needs_parts"), "action": "submit"})
    diagnosis = current(job)
    follow_up = diagnosis.follow_up_job
    assert follow_up is not None and follow_up.status == "new" and follow_up.customer_id == job.customer_id
    assert job.reference in follow_up.description
    assert db.session.scalar(select(func.count(Job.id))) == 2


def test_escalated_outcome_sends_the_job_to_the_supervisor(on_site, fault):
    tech, job = on_site
    sign(tech, job)
    tech.post_form(f"/jobs/{job.id}/diagnosis", {**fields(fault, outcome="escalated"), "action": "submit"})
    db.session.refresh(job)
    assert job.status == "escalated"
    assert job.escalations[0].reason == "Worn main bearing."


def test_a_correction_is_a_new_version_and_the_old_one_is_kept(on_site, fault):
    tech, job = on_site
    sign(tech, job)
    tech.post_form(f"/jobs/{job.id}/diagnosis", {**fields(fault), "action": "submit"})
    first = current(job)
    assert tech.post_form(f"/jobs/{job.id}/diagnosis/correct").status_code == 303
    tech.post_form(f"/jobs/{job.id}/diagnosis", {**fields(fault, root_cause="Bearing and seal worn."), "action": "submit"})
    db.session.expire_all()
    old = db.session.get(Diagnosis, first.id)
    new = current(job)
    assert (old.version, old.status, old.root_cause) == (1, "superseded", "Worn main bearing.")
    assert (new.version, new.status, new.root_cause) == (2, "submitted", "Bearing and seal worn.")
    assert new.supersedes_id == old.id
    db.session.refresh(job)
    assert job.status == "resolved"  # the job moved once, on the first submission
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "diagnosis").order_by(AuditEvent.id)))
    assert actions == ["submit", "correct", "supersede", "submit"]


def test_another_technician_cannot_see_or_write_the_diagnosis(on_site, fault, login):
    _, job = on_site
    other = login("technician")
    assert other.get(f"/jobs/{job.id}/diagnosis").status_code == 404
    assert other.post_form(f"/jobs/{job.id}/diagnosis/draft", {"symptom": "x"}).status_code == 404
    assert other.get(f"/jobs/{job.id}/diagnosis/signature").status_code == 404


def test_signature_must_be_a_png_drawing_and_is_served_through_a_presigned_url(on_site, fault, login):
    tech, job = on_site
    bad = tech.post_form(f"/jobs/{job.id}/diagnosis/signature",
                         {"signature": (io.BytesIO(b"%PDF-1.4 not a png"), "signature.png")},
                         htmx_target="signature-block", content_type="multipart/form-data")
    assert bad.status_code == 422 and "PNG" in bad.get_data(as_text=True)
    assert current(job) is None  # nothing stored, no draft made
    sign(tech, job)
    dispatcher = login("dispatcher")
    link = dispatcher.get(f"/jobs/{job.id}/diagnosis/signature")
    assert link.status_code == 302 and "X-Amz-Signature=" in link.headers["Location"]
    with urllib.request.urlopen(link.headers["Location"]) as fetched:
        assert fetched.read() == storage.get(current(job).signature_key)


def test_diagnosis_can_only_start_once_checked_in(s3_app, login, make, fault):
    tech = login("technician")
    job = make.job("en_route", technician=tech.user)
    page = tech.get(f"/jobs/{job.id}/diagnosis").get_data(as_text=True)
    assert "<textarea" not in page
    refused = tech.post_form(f"/jobs/{job.id}/diagnosis/draft", {"symptom": "x"}, htmx_target="draft-status")
    assert refused.status_code == 409
    assert ops.current_diagnosis(job) is None
