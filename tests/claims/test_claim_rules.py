"""Claim rules as plain functions (policy 3.7): evidence, states, decisions, four eyes, integrity."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from fieldservice.blueprints.claims import operations as ops
from fieldservice.extensions import db
from fieldservice.models import AuditEvent
from fieldservice.services import storage
from tests.claims.conftest import photo_of


@pytest.fixture(autouse=True)
def _english_messages(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


def data(**kw):
    base = dict(claim_type="replacement", description="Roller arrived cracked.", amount_claimed=Decimal("1200.00"))
    base.update(kw)
    return ops.ClaimData(**base)


def open_and_submit(technician, diagnosis, job):
    claim = ops.open_claim(technician, data(), diagnosis=diagnosis)
    ops.add_evidence(claim, photo_of(job, technician), technician)
    ops.submit_claim(claim, technician)
    db.session.commit()
    return claim


def test_a_claim_needs_a_photo_to_be_submitted(diagnosed):
    technician, job, diagnosis = diagnosed
    claim = ops.open_claim(technician, data(), diagnosis=diagnosis)
    assert (claim.customer_id, claim.job_id, claim.status) == (job.customer_id, job.id, "draft")
    with pytest.raises(ops.ClaimRefused, match="at least one photo"):
        ops.submit_claim(claim, technician)
    ops.add_evidence(claim, photo_of(job, technician), technician)
    ops.submit_claim(claim, technician)
    assert claim.status == "submitted" and claim.submitted_dt is not None


def test_a_part_sent_to_the_centre_needs_a_tracking_number(diagnosed):
    technician, _, diagnosis = diagnosed
    with pytest.raises(ops.ClaimRefused, match="tracking number"):
        ops.open_claim(technician, data(part_whereabouts="sent_to_centre"), diagnosis=diagnosis)


def test_another_technician_cannot_open_a_claim_on_the_job(diagnosed, make):
    _, _, diagnosis = diagnosed
    with pytest.raises(ops.ClaimRefused):
        ops.open_claim(make.user("technician"), data(), diagnosis=diagnosis)


def test_submitted_evidence_cannot_be_removed_and_is_added_only_when_asked(diagnosed, make):
    technician, job, diagnosis = diagnosed
    claim = open_and_submit(technician, diagnosis, job)
    with pytest.raises(ops.ClaimRefused, match="cannot be removed"):
        ops.remove_evidence(claim, claim.evidence[0], technician)
    with pytest.raises(ops.ClaimRefused):
        ops.add_evidence(claim, photo_of(job, technician, (0, 90, 0)), technician)
    reviewer = make.user("reviewer")
    ops.start_review(claim, reviewer)
    ops.request_info(claim, reviewer, "Please photograph the serial plate.")
    ops.add_evidence(claim, photo_of(job, technician, (0, 0, 90)), technician)
    assert [e.added_in_status for e in claim.evidence] == ["draft", "info_requested"]


def test_resubmitting_needs_an_answer_to_the_question(diagnosed, make):
    technician, job, diagnosis = diagnosed
    claim = open_and_submit(technician, diagnosis, job)
    reviewer = make.user("reviewer")
    ops.start_review(claim, reviewer)
    ops.request_info(claim, reviewer, "Where is the roller now?")
    with pytest.raises(ops.ClaimRefused, match="Answer"):
        ops.submit_claim(claim, technician)
    ops.answer_question(claim, technician, "Kept at the customer's site.")
    ops.submit_claim(claim, technician)
    assert claim.status == "resubmitted"
    ops.start_review(claim, reviewer)
    assert claim.status == "under_review"


@pytest.mark.parametrize("decide", [
    lambda c, r: ops.reject(c, r, " "),
    lambda c, r: ops.request_info(c, r, ""),
    lambda c, r: ops.approve(c, r, Decimal("10"), ""),
])
def test_every_decision_needs_a_reason(diagnosed, make, decide):
    technician, job, diagnosis = diagnosed
    claim = open_and_submit(technician, diagnosis, job)
    reviewer = make.user("reviewer")
    ops.start_review(claim, reviewer)
    with pytest.raises(ops.ClaimRefused, match="reason"):
        decide(claim, reviewer)
    assert claim.status == "under_review"


def test_approval_records_a_lower_amount_and_every_move_is_audited(diagnosed, make):
    technician, job, diagnosis = diagnosed
    claim = open_and_submit(technician, diagnosis, job)
    reviewer = make.user("reviewer")
    ops.start_review(claim, reviewer)
    ops.appraise(claim, reviewer, "transport_damage", "Impact marks on the crate.")
    ops.approve(claim, reviewer, Decimal("900.00"), "Transport damage; roller only, not the fitting.")
    db.session.commit()
    assert (claim.status, claim.approved_amount, claim.amount_claimed) == ("approved", Decimal("900.00"), Decimal("1200.00"))
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "claim")
                                      .order_by(AuditEvent.id)))
    assert actions == ["open", "add_evidence", "submit", "review", "appraise", "approve"]


def test_above_the_threshold_a_second_reviewer_must_confirm(diagnosed, make, app):
    app.config["CLAIM_SECOND_APPROVAL_ABOVE"] = 1000
    technician, job, diagnosis = diagnosed
    claim = open_and_submit(technician, diagnosis, job)
    first, second = make.user("reviewer"), make.user("reviewer")
    ops.start_review(claim, first)
    ops.approve(claim, first, Decimal("1100.00"), "Covered by warranty.")
    assert claim.status == "under_review" and claim.first_approver_id == first.id
    with pytest.raises(ops.ClaimRefused, match="second reviewer"):
        ops.approve(claim, first, None, "Me again.")
    ops.approve(claim, second, None, "Checked the photos; agreed.")
    assert (claim.status, claim.approved_amount, claim.second_approver_id) == ("approved", Decimal("1100.00"), second.id)


def test_integrity_check_detects_an_original_changed_behind_the_apps_back(diagnosed, make):
    technician, job, diagnosis = diagnosed
    claim = open_and_submit(technician, diagnosis, job)
    assert [r.ok for r in ops.verify_evidence(claim)] == [True]
    tampered = claim.evidence[0].photo
    storage.put(tampered.original_key, io.BytesIO(b"a different picture"), "image/jpeg")
    result = ops.verify_evidence(claim)[0]
    assert result.ok is False and result.actual_sha256 != tampered.sha256
    storage.delete(tampered.original_key)
    assert ops.verify_evidence(claim)[0].ok is None


def test_who_sees_which_claim(diagnosed, make):
    technician, job, diagnosis = diagnosed
    claim = open_and_submit(technician, diagnosis, job)
    assert ops.visible_claim(technician, claim.id) is claim
    assert ops.visible_claim(make.user("technician"), claim.id) is None
    assert ops.visible_claim(make.user("reviewer"), claim.id) is claim
    assert ops.visible_claim(make.user("dispatcher"), claim.id) is None
    assert ops.visible_claim(job.created_by, claim.id) is claim  # the dispatcher who logged the request
    assert ops.review_queue_count() == 1


@pytest.mark.parametrize("raw, expected", [("1 200.50", Decimal("1200.50")), ("1200,5", Decimal("1200.50")), ("", None)])
def test_amounts_as_people_type_them(raw, expected):
    assert ops.parse_amount(raw) == expected


@pytest.mark.parametrize("raw", ["12345678901.00", "1e12", "NaN", "Infinity", "-inf", "abc", "1.2.3"])
def test_amounts_that_do_not_fit_or_are_not_numbers_are_refused(raw):
    with pytest.raises(ops.ClaimRefused):
        ops.parse_amount(raw)


def test_the_largest_amount_the_column_holds_is_accepted():
    assert ops.parse_amount("9999999999.99") == Decimal("9999999999.99")
