"""Claim pages (policy 3.7): the claimant opens a claim and gives evidence, the reviewer asks,
appraises and decides; refused changes answer 409 and change nothing; integrity is checked
against the real object store (SeaweedFS)."""
from __future__ import annotations

import re
from decimal import Decimal


from fieldservice.blueprints.claims import operations as ops
from fieldservice.extensions import db
from fieldservice.models import Claim, ClaimEvidence, Photo
from fieldservice.services import storage
from tests.claims.conftest import jpeg, photo_of
from tests.conftest import count_queries


def draft_claim(technician, diagnosis, *, with_photo=True) -> Claim:
    claim = ops.open_claim(technician, ops.ClaimData(claim_type="replacement", description="Roller arrived cracked.",
                                                     amount_claimed=Decimal("1200.00")), diagnosis=diagnosis)
    if with_photo:
        ops.add_evidence(claim, photo_of(diagnosis.job, technician), technician)
    db.session.commit()
    return claim


def submitted_claim(technician, diagnosis) -> Claim:
    claim = draft_claim(technician, diagnosis)
    ops.submit_claim(claim, technician)
    db.session.commit()
    return claim


def fresh(claim_id: int) -> Claim:
    db.session.expire_all()
    return db.session.get(Claim, claim_id)


def claim_id_from(response) -> int:
    return int(re.search(r"/claims/(\d+)$", response.headers["Location"]).group(1))


def test_technician_opens_a_claim_from_the_diagnosis_and_adds_a_job_photo(diagnosed, login):
    technician, job, _ = diagnosed
    photo = photo_of(job, technician)
    c = login(technician)
    record = c.get(f"/jobs/{job.id}/diagnosis").get_data(as_text=True)
    assert f"/jobs/{job.id}/claims/new" in record and "Open a claim" in record
    assert f"/jobs/{job.id}/claims/new" in c.get(f"/jobs/{job.id}").get_data(as_text=True)
    form = c.get(f"/jobs/{job.id}/claims/new")
    assert form.status_code == 200 and 'for="claim_type"' in form.get_data(as_text=True)

    response = c.post_form(f"/jobs/{job.id}/claims/new", {
        "claim_type": "replacement", "product_model": "PX-200", "serial": "SN-1", "amount": "1 200,50",
        "currency": "CNY", "description": "Roller arrived cracked.", "part_whereabouts": "sent_to_centre",
        "tracking_number": "SF123456"})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    claim_id = claim_id_from(response)
    claim = fresh(claim_id)
    assert (claim.status, claim.amount_claimed, claim.diagnosis_id, claim.tracking_number) == (
        "draft", Decimal("1200.50"), diagnosed[2].id, "SF123456")

    page = c.get(f"/claims/{claim_id}").get_data(as_text=True)
    assert "Draft" in page and "Add as evidence" in page and f'value="{photo.id}"' in page
    assert f'action="/claims/{claim_id}/photos"' in page  # the uploader for new photos
    assert c.post_form(f"/claims/{claim_id}/evidence", {"photo_id": str(photo.id)}).status_code == 303
    page = c.get(f"/claims/{claim_id}").get_data(as_text=True)
    assert f"/photos/{photo.id}/thumb" in page and photo.sha256 in page and "/remove" in page
    assert "Add as evidence" not in page  # the job's only photo is evidence now


def test_a_missing_tracking_number_comes_back_in_the_form(diagnosed, login):
    technician, job, _ = diagnosed
    c = login(technician)
    response = c.post_form(f"/jobs/{job.id}/claims/new", {
        "claim_type": "replacement", "description": "Cracked.", "currency": "CNY",
        "part_whereabouts": "sent_to_centre"})
    assert response.status_code == 422
    assert "tracking number" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Claim.id))) == 0


def test_submit_without_a_photo_is_refused_and_the_page_says_why(diagnosed, login):
    technician, _, diagnosis = diagnosed
    claim = draft_claim(technician, diagnosis, with_photo=False)
    c = login(technician)
    response = c.post_form(f"/claims/{claim.id}/submit")
    assert response.status_code == 409
    assert "at least one photo" in response.get_data(as_text=True)
    htmx = c.post_form(f"/claims/{claim.id}/submit", htmx_target="main")
    assert htmx.status_code == 409 and htmx.mimetype == "text/plain"
    assert fresh(claim.id).status == "draft"


def test_evidence_cannot_be_removed_after_submit_in_the_ui_or_by_a_crafted_post(diagnosed, login):
    technician, _, diagnosis = diagnosed
    claim = submitted_claim(technician, diagnosis)
    evidence_id = claim.evidence[0].id
    c = login(technician)
    page = c.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert "/remove" not in page and "Submitted" in page
    response = c.post_form(f"/claims/{claim.id}/evidence/{evidence_id}/remove")
    assert response.status_code == 409
    assert "cannot be removed" in response.get_data(as_text=True)
    assert db.session.get(ClaimEvidence, evidence_id) is not None
    assert [e.id for e in fresh(claim.id).evidence] == [evidence_id]


def test_decisions_without_a_reason_are_refused(diagnosed, login):
    technician, _, diagnosis = diagnosed
    claim = submitted_claim(technician, diagnosis)
    reviewer = login("reviewer")
    assert reviewer.post_form(f"/claims/{claim.id}/review").status_code == 303
    for url, data in ((f"/claims/{claim.id}/reject", {"reason": " "}),
                      (f"/claims/{claim.id}/request-info", {"question": ""}),
                      (f"/claims/{claim.id}/approve", {"amount": "100", "reason": ""})):
        response = reviewer.post_form(url, data)
        assert response.status_code == 409, url
        assert "needs a reason" in response.get_data(as_text=True)
    claim = fresh(claim.id)
    assert (claim.status, claim.approved_amount, claim.messages) == ("under_review", None, [])


def test_technician_cannot_use_reviewer_actions(diagnosed, login):
    technician, _, diagnosis = diagnosed
    claim = submitted_claim(technician, diagnosis)
    c = login(technician)
    assert c.post_form(f"/claims/{claim.id}/review").status_code == 403
    assert c.get(f"/claims/{claim.id}/integrity").status_code == 403
    assert fresh(claim.id).status == "submitted"


def test_reviewer_asks_technician_answers_adds_a_photo_and_resubmits_reviewer_approves_less(diagnosed, login, make):
    technician, job, diagnosis = diagnosed
    claim = submitted_claim(technician, diagnosis)
    reviewer = login("reviewer")
    page = reviewer.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert "Start the review" in page and "history" in page and job.reference in page
    assert reviewer.post_form(f"/claims/{claim.id}/review").status_code == 303
    assert reviewer.post_form(f"/claims/{claim.id}/request-info",
                              {"question": "Please photograph the serial plate."}).status_code == 303

    tech = login(technician)
    page = tech.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert "Please photograph the serial plate." in page and "Your answer" in page
    assert tech.post_form(f"/claims/{claim.id}/answer", {"answer": "Plate photographed."}).status_code == 303
    upload = tech.post_form(f"/jobs/{job.id}/photos", {"photo": (jpeg((0, 0, 90)), "plate.jpg"),
                                                       "next": f"/claims/{claim.id}"})
    assert upload.status_code == 303 and upload.headers["Location"].endswith(f"/claims/{claim.id}")
    new_photo = db.session.scalar(db.select(Photo).order_by(Photo.id.desc()))
    assert "Add as evidence" in tech.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert tech.post_form(f"/claims/{claim.id}/evidence", {"photo_id": str(new_photo.id)}).status_code == 303
    assert tech.post_form(f"/claims/{claim.id}/submit").status_code == 303
    assert fresh(claim.id).status == "resubmitted"

    assert reviewer.post_form(f"/claims/{claim.id}/review").status_code == 303
    assert reviewer.post_form(f"/claims/{claim.id}/appraise",
                              {"appraisal": "transport_damage", "notes": "Crushed corner."}).status_code == 303
    assert reviewer.post_form(f"/claims/{claim.id}/approve",
                              {"amount": "800", "reason": "Roller only; frame undamaged."}).status_code == 303
    claim = fresh(claim.id)
    assert (claim.status, claim.approved_amount, claim.appraisal) == ("approved", Decimal("800.00"), "transport_damage")
    assert [e.added_in_status for e in claim.evidence] == ["draft", "info_requested"]

    page = tech.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert "Approved" in page and "800.00 CNY" in page and "Roller only; frame undamaged." in page


def test_an_approval_above_the_threshold_waits_for_a_second_reviewer(diagnosed, login, s3_app):
    technician, _, diagnosis = diagnosed
    s3_app.config["CLAIM_SECOND_APPROVAL_ABOVE"] = 500
    claim = submitted_claim(technician, diagnosis)
    first = login("reviewer")
    first.post_form(f"/claims/{claim.id}/review")
    assert first.post_form(f"/claims/{claim.id}/approve", {"amount": "900", "reason": "Defect."}).status_code == 303
    assert "waiting for a second reviewer" in first.get(f"/claims/{claim.id}").get_data(as_text=True)
    again = first.post_form(f"/claims/{claim.id}/approve", {"amount": "", "reason": "Me again."})
    assert again.status_code == 409 and fresh(claim.id).status == "under_review"
    second = login("reviewer")
    assert second.post_form(f"/claims/{claim.id}/approve", {"amount": "", "reason": "Agreed."}).status_code == 303
    assert (fresh(claim.id).status, fresh(claim.id).approved_amount) == ("approved", Decimal("900.00"))


def test_another_technician_gets_404_on_the_claim_and_its_evidence_photos(diagnosed, login):
    technician, _, diagnosis = diagnosed
    claim = submitted_claim(technician, diagnosis)
    photo_id = claim.evidence[0].photo_id
    other = login("technician")
    assert other.get(f"/claims/{claim.id}").status_code == 404
    for variant in ("thumb", "display", "original"):
        assert other.get(f"/photos/{photo_id}/{variant}").status_code == 404
    assert other.post_form(f"/claims/{claim.id}/answer", {"answer": "x"}).status_code == 404
    assert f"/claims/{claim.id}\"" not in other.get("/claims?status=all").get_data(as_text=True)
    owner = login(technician)
    assert owner.get(f"/photos/{photo_id}/original").status_code == 302


def test_the_queue_lists_waiting_claims_oldest_first_and_filters(diagnosed, login, make):
    technician, job, diagnosis = diagnosed
    older = submitted_claim(technician, diagnosis)
    newer = submitted_claim(technician, diagnosis)
    draft = draft_claim(technician, diagnosis)
    reviewer = login("reviewer")
    page = reviewer.get("/claims").get_data(as_text=True)
    assert page.index(older.reference) < page.index(newer.reference)
    assert draft.reference not in page
    fragment = reviewer.htmx_get("/claims?model=nomatch", "claims-results").get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="claims-results">') and "No claims match." in fragment
    assert older.reference in reviewer.htmx_get("/claims?type=replacement&age=0", "claims-results").get_data(as_text=True)
    assert draft.reference in login(technician).get("/claims").get_data(as_text=True)


def test_the_navigation_badge_counts_claims_waiting(diagnosed, login):
    technician, _, diagnosis = diagnosed
    claim = submitted_claim(technician, diagnosis)
    submitted_claim(technician, diagnosis)
    reviewer = login("reviewer")
    page = reviewer.get("/claims").get_data(as_text=True)
    # The page carries the count itself (no JS needed) and htmx polls for changes.
    nav = re.search(r'<a href="/claims">.*?</span></a>', page, re.S).group(0)
    assert ">2</span>" in nav and 'hx-trigger="every 60s"' in nav and "/claims/badge?shown=2" in nav
    unchanged = reviewer.htmx_get("/claims/badge?shown=2", "claims-count")
    assert unchanged.status_code == 204
    tech = login(technician)
    assert "nav-badge" not in tech.get("/claims/badge").get_data(as_text=True)  # nothing waits for them
    reviewer.post_form(f"/claims/{claim.id}/review")
    reviewer.post_form(f"/claims/{claim.id}/request-info", {"question": "Which batch?"})
    assert ">1</span>" in tech.htmx_get("/claims/badge?shown=", "claims-count").get_data(as_text=True)
    changed = reviewer.htmx_get("/claims/badge?shown=2", "claims-count")
    assert changed.status_code == 200 and ">1</span>" in changed.get_data(as_text=True)
    assert 'id="claims-count"' in changed.get_data(as_text=True)


def test_integrity_check_detects_an_original_changed_behind_the_apps_back(diagnosed, login):
    technician, _, diagnosis = diagnosed
    claim = submitted_claim(technician, diagnosis)
    photo = claim.evidence[0].photo
    reviewer = login("reviewer")
    page = reviewer.get(f"/claims/{claim.id}/integrity").get_data(as_text=True)
    assert "matches" in page and "CHANGED" not in page
    storage.put(photo.original_key, jpeg((0, 200, 0)), "image/jpeg")
    fragment = reviewer.htmx_get(f"/claims/{claim.id}/integrity", "claim-evidence")
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith("<section") and "CHANGED" in html


def test_the_claims_list_runs_a_constant_number_of_queries_at_10_and_200_claims(diagnosed, login, make):
    technician, job, _ = diagnosed
    customers = [make.customer() for _ in range(5)]
    reviewer = login("reviewer")

    def add_claims(n: int) -> None:
        for i in range(n):
            customer = customers[i % len(customers)]
            db.session.add(Claim(claim_type="replacement", status="submitted", job=job, customer=customer,
                                 region_id=customer.region_id, description="Cracked.", opened_by_id=technician.id,
                                 submitted_dt=job.created_dt))
        db.session.commit()

    def queries(client, url: str = "/claims") -> int:
        return count_queries(client, url)

    add_claims(10)
    few, few_own = queries(reviewer), queries(login(technician), "/claims?status=all")
    add_claims(190)
    assert queries(reviewer) == few
    assert queries(login(technician), "/claims?status=all") == few_own


def test_dispatcher_opens_a_claim_from_a_request_of_type_claim_only(s3_app, login, make):
    dispatcher = make.user("dispatcher")
    claim_request = make.job("new", request_type="claim", dispatcher=dispatcher)
    repair = make.job("new", dispatcher=dispatcher)
    c = login(dispatcher)
    assert f"/jobs/{claim_request.id}/claims/new" in c.get(f"/jobs/{claim_request.id}").get_data(as_text=True)
    form = {"claim_type": "refund", "description": "Customer asks for a refund.", "currency": "CNY",
            "part_whereabouts": "at_customer"}
    refused = c.post_form(f"/jobs/{repair.id}/claims/new", form)
    assert refused.status_code == 422 and "request of type claim" in refused.get_data(as_text=True)
    response = c.post_form(f"/jobs/{claim_request.id}/claims/new", form)
    assert response.status_code == 303
    claim = fresh(claim_id_from(response))
    assert (claim.opened_by_id, claim.job_id, claim.status) == (dispatcher.id, claim_request.id, "draft")
    assert claim.reference in c.get("/claims").get_data(as_text=True)
