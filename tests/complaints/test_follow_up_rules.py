"""Follow-up calls called directly (policy 2.1): created when a job is resolved (through the
real lifecycle move), recorded by the desk, closing the job; a dissatisfied answer opens a
complaint in the same step (policy 2.6 repeat detection applies)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from fieldservice.blueprints.complaints import operations as ops
from fieldservice.blueprints.dispatch import operations as dispatch_ops
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Complaint, FollowUp
from fieldservice.services.lifecycle import TransitionError
from tests.complaints.conftest import NOW


@pytest.fixture(autouse=True)
def _english_messages(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


def resolve(make, technician=None, when=NOW, customer=None):
    """A job driven on site by the factory, then resolved through the real lifecycle move."""
    technician = technician or make.user("technician")
    job = make.job("on_site", technician=technician, customer=customer)
    dispatch_ops.transition_job(job, "resolve", technician, None, reason="Replaced the seal.", now=when,
                                by_hand=False)  # as its diagnosis would
    db.session.commit()
    return job


def counts() -> tuple:
    db.session.expire_all()
    return (db.session.scalar(db.select(db.func.count(Complaint.id))),
            db.session.scalar(db.select(db.func.count(AuditEvent.id))),
            db.session.execute(db.select(FollowUp.status, FollowUp.attempts, FollowUp.satisfaction,
                                         FollowUp.outcome)).all())


def test_resolving_a_job_creates_its_follow_up_due_in_three_days(app, make):
    job = resolve(make)
    follow_up = ops.follow_up_of(job)
    assert app.config["FOLLOW_UP_DUE_DAYS"] == 3
    assert (follow_up.status, follow_up.created_dt, follow_up.due_dt, follow_up.region_id, follow_up.attempts) == (
        "pending", NOW, NOW + timedelta(days=3), job.region_id, 0)
    assert ops.create_follow_up(job, now=NOW + timedelta(days=1)).id == follow_up.id  # one per job
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count(FollowUp.id))) == 1


def test_a_submitted_diagnosis_that_resolves_the_job_creates_the_follow_up(make):
    """The diagnosis resolves its job through the same move: every resolve gets its call."""
    from fieldservice.blueprints.diagnosis import operations as diagnosis_ops
    from fieldservice.models import Diagnosis
    from tests.complaints.conftest import fault

    technician = make.user("technician")
    job = make.job("on_site", technician=technician)
    draft = Diagnosis(job=job, version=1, status="draft", technician_id=technician.id, fault_category=fault(),
                      symptom="Drips", root_cause="Worn seal", actions_taken="Replaced the seal", outcome="fixed",
                      contact_name="Wang", signature_key="signatures/test.png")
    db.session.add(draft)
    db.session.flush()
    diagnosis_ops.submit_diagnosis(draft, technician, now=NOW)
    db.session.commit()
    assert job.status == "resolved"
    follow_up = ops.follow_up_of(job)
    assert (follow_up.status, follow_up.due_dt) == ("pending", NOW + timedelta(days=3))


def test_the_job_closes_after_its_follow_up_not_by_hand(make, desk):
    job = resolve(make)
    with pytest.raises(TransitionError, match="Record the follow-up call first"):
        dispatch_ops.transition_job(job, "close", desk, None, now=NOW)
    db.session.rollback()
    assert db.session.get(type(job), job.id).status == "resolved"


def test_reached_with_satisfaction_closes_the_job(make, desk):
    job = resolve(make)
    follow_up = ops.follow_up_of(job)
    when = NOW + timedelta(days=1)
    assert ops.record_follow_up(follow_up, "reached", 4, "Works well now.", desk, now=when) is None
    db.session.commit()
    assert (follow_up.status, follow_up.outcome, follow_up.satisfaction, follow_up.comments, follow_up.attempts,
            follow_up.called_by_id, follow_up.called_dt) == ("done", "reached", 4, "Works well now.", 1, desk.id, when)
    assert (job.status, job.closed_dt) == ("closed", when)
    close = db.session.scalar(db.select(AuditEvent).where(AuditEvent.entity_type == "job", AuditEvent.action == "close"))
    assert (close.actor_id, close.from_state, close.to_state) == (desk.id, "resolved", "closed")
    assert db.session.scalar(db.select(AuditEvent.action).where(
        AuditEvent.entity_type == "follow_up", AuditEvent.actor_id == desk.id)) == "reached"
    with pytest.raises(ops.ComplaintError, match="already been recorded"):
        ops.record_follow_up(follow_up, "reached", 5, "", desk, now=when)


def test_no_answer_counts_an_attempt_and_stays_pending_then_overdue(make, desk):
    job = resolve(make)
    follow_up = ops.follow_up_of(job)
    ops.record_follow_up(follow_up, "no_answer", None, "Rang twice.", desk, now=NOW + timedelta(days=1))
    ops.record_follow_up(follow_up, "no_answer", 5, "", desk, now=NOW + timedelta(days=2))  # a stray score is dropped
    db.session.commit()
    assert (follow_up.status, follow_up.attempts, follow_up.due_dt, follow_up.satisfaction, job.status) == (
        "pending", 2, NOW + timedelta(days=3), None, "resolved")
    assert ops.overdue_follow_ups_count(now=NOW + timedelta(days=3)) == 0  # due exactly now: not yet overdue
    assert ops.overdue_follow_ups_count(now=NOW + timedelta(days=3, seconds=1)) == 1


def test_overdue_count_leaves_out_done_and_not_yet_due_calls(make, desk):
    done = ops.follow_up_of(resolve(make, when=NOW - timedelta(days=10)))
    ops.record_follow_up(done, "reached", 5, "", desk, now=NOW - timedelta(days=9))
    resolve(make, when=NOW - timedelta(days=5))            # due 2 days ago: overdue
    resolve(make, when=NOW - timedelta(days=4))            # due yesterday: overdue
    resolve(make, when=NOW - timedelta(days=1))            # due in 2 days
    db.session.commit()
    assert ops.overdue_follow_ups_count(now=NOW) == 2


@pytest.mark.parametrize("outcome, satisfaction, message", [
    ("reached", None, "from 1 to 5"),
    ("reached", 0, "from 1 to 5"),
    ("reached", 6, "from 1 to 5"),
    ("reached", True, "from 1 to 5"),
    ("hung_up", 3, "reached"),
    ("", 3, "reached"),
])
def test_bad_call_records_change_nothing(make, desk, outcome, satisfaction, message):
    job = resolve(make)
    before = counts()
    with pytest.raises(ops.ComplaintError, match=message):
        ops.record_follow_up(ops.follow_up_of(job), outcome, satisfaction, "x", desk, now=NOW)
    db.session.rollback()
    assert counts() == before and db.session.get(type(job), job.id).status == "resolved"


def test_satisfaction_parsing():
    assert [ops.parse_satisfaction(v) for v in ("1", "5", " 3 ", "0", "6", "", None, "2.5", "-1", "12")] == [
        1, 5, 3, None, None, None, None, None, None, None]


def test_dissatisfied_answer_opens_a_complaint_in_the_same_step(make, desk):
    technician = make.user("technician")
    job = resolve(make, technician)
    follow_up = ops.follow_up_of(job)
    complaint = ops.record_follow_up(
        follow_up, "reached", 2, "Still leaking.", desk, now=NOW + timedelta(days=1),
        open_complaint=ops.ComplaintRequest("fault_not_fixed", "The filler still drips after each fill."))
    db.session.commit()
    assert (complaint.follow_up_id, complaint.job_id, complaint.customer_id, complaint.technician_id,
            complaint.category, complaint.status, complaint.escalated) == (
        follow_up.id, job.id, job.customer_id, technician.id, "fault_not_fixed", "open", False)
    assert (follow_up.status, follow_up.satisfaction, job.status) == ("done", 2, "closed")


def test_dissatisfied_complaint_repeating_an_earlier_one_is_escalated(make, desk):
    job = resolve(make)
    earlier = ops.log_complaint(job.customer, "late_arrival", "Came a day late.", desk, job=job, now=NOW)
    complaint = ops.record_follow_up(ops.follow_up_of(job), "reached", 1, "", desk, now=NOW + timedelta(days=1),
                                     open_complaint=ops.ComplaintRequest("fault_not_fixed", "Broken again."))
    db.session.commit()
    assert complaint.escalated and complaint.earlier == [earlier]


@pytest.mark.parametrize("satisfaction, request_, message", [
    (3, ops.ComplaintRequest("fault_not_fixed", "Meh."), "dissatisfied"),        # not unhappy enough
    (1, ops.ComplaintRequest("rudeness", "Rude."), "Choose what the complaint"),  # unknown category
    (1, ops.ComplaintRequest("behaviour", "  "), "Describe the complaint"),
])
def test_bad_complaint_from_a_call_changes_nothing(make, desk, satisfaction, request_, message):
    job = resolve(make)
    before = counts()
    with pytest.raises(ops.ComplaintError, match=message):
        ops.record_follow_up(ops.follow_up_of(job), "reached", satisfaction, "", desk, open_complaint=request_, now=NOW)
    db.session.rollback()
    assert counts() == before and db.session.get(type(job), job.id).status == "resolved"


def test_no_answer_cannot_open_a_complaint(make, desk):
    job = resolve(make)
    with pytest.raises(ops.ComplaintError, match="dissatisfied"):
        ops.record_follow_up(ops.follow_up_of(job), "no_answer", None, "", desk, now=NOW,
                             open_complaint=ops.ComplaintRequest("behaviour", "Rude."))


def test_technicians_and_reviewers_cannot_record_calls(make):
    job = resolve(make)
    for role in ("technician", "reviewer"):
        with pytest.raises(ops.ComplaintError):
            ops.record_follow_up(ops.follow_up_of(job), "reached", 5, "", make.user(role), now=NOW)
