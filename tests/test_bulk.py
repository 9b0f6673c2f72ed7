"""`flask seed-bulk` (issue 7): bulk data that obeys the same rules as data made by the pages.

Small runs (300 jobs) on the suite's database (SQLite, or PostgreSQL where COPY is used): every
state present, each job's children consistent with its state, id sequences continuing after the
bulk ids, and the supervisor's pages answering on the data.
"""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from fieldservice.devtools.bulk import BULK_PASSWORD, STATES, BulkRefused, seed_bulk
from fieldservice.extensions import db
from fieldservice.models import (
    AuditEvent,
    Claim,
    ClaimEvidence,
    Complaint,
    ComplaintLink,
    Customer,
    Diagnosis,
    FaultCategory,
    FollowUp,
    Inspection,
    InspectionCheck,
    Job,
    Photo,
    QualityFlag,
    User,
)

JOBS, TECHNICIANS, WEEKS = 300, 12, 6


@pytest.fixture
def bulk(app):
    """300 jobs, 12 technicians, 6 weeks, committed."""
    result = seed_bulk(JOBS, TECHNICIANS, WEEKS, seed=11)
    db.session.commit()
    return result


def _all(stmt):
    return list(db.session.scalars(stmt))


def test_jobs_in_every_state_counted_as_reported(bulk):
    in_db = dict(db.session.execute(select(Job.status, func.count(Job.id)).group_by(Job.status)).all())
    assert sum(in_db.values()) == JOBS
    assert in_db == {s: n for s, n in bulk.states.items() if n}
    assert set(STATES) <= set(in_db)
    assert bulk.counts["jobs"] == JOBS
    # Every table the writer reports matches what is stored.
    for model in (Diagnosis, FollowUp, Complaint, Claim, Photo, Inspection):
        assert bulk.counts.get(model.__tablename__, 0) == db.session.scalar(select(func.count()).select_from(model))
    # (The quality watch adds its own audit events when it raises flags.)
    assert bulk.counts["audit_events"] == db.session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.entity_type == "job"))


def test_staff_regions_and_customers_agree(bulk):
    technicians = _all(select(User).where(User.role == "technician"))
    assert len(technicians) == TECHNICIANS
    assert {u.role for u in _all(select(User))} == {"technician", "dispatcher", "reviewer", "supervisor"}
    for job in _all(select(Job)):
        assert job.customer.region_id == job.region_id
        if job.technician is not None:
            assert job.technician.role == "technician"
            assert job.technician.region_id == job.region_id
        assert job.arrival_deadline_dt > job.created_dt


def test_each_job_has_the_children_its_state_implies(bulk):
    diagnoses = Counter()
    for d in _all(select(Diagnosis).where(Diagnosis.status == "submitted")):
        diagnoses[d.job_id] += 1
    follow_ups = {f.job_id: f for f in _all(select(FollowUp))}
    for job in _all(select(Job)):
        with_technician = job.status not in ("new", "cancelled")
        if with_technician:
            assert job.technician_id and job.assigned_dt and job.assigned_dt >= job.created_dt
        if job.status == "new":
            assert job.technician_id is None
        if job.checked_in_dt is not None:
            # Late means checked in after the arrival deadline (policy 4.1).
            assert job.late == (job.checked_in_dt > job.arrival_deadline_dt)
        else:
            assert not job.late
        done = job.status in ("resolved", "closed")
        if done:
            assert job.resolved_dt is not None and job.checked_in_dt <= job.resolved_dt
        if done and job.request_type == "fault_repair":
            assert diagnoses[job.id] == 1, job  # exactly one ledger row (policy 3.10)
        else:
            assert diagnoses[job.id] == 0, job
        # Every resolved job has its follow-up call; it is done once the job is closed (policy 2.1).
        follow_up = follow_ups.get(job.id)
        if job.status == "closed":
            assert follow_up.status == "done" and follow_up.outcome == "reached"
            assert 1 <= follow_up.satisfaction <= 5 and follow_up.called_dt == job.closed_dt
        elif job.status == "resolved":
            assert follow_up.status == "pending" and follow_up.satisfaction is None
        else:
            assert follow_up is None
        if job.status == "escalated":
            assert [e.decided_dt for e in job.escalations] == [None]
    # The job's audit trail starts with its creation and ends in its state.
    first = {}
    last = {}
    for event in _all(select(AuditEvent).where(AuditEvent.entity_type == "job").order_by(AuditEvent.id)):
        first.setdefault(event.entity_id, event)
        last[event.entity_id] = event
    for job in _all(select(Job)):
        assert first[job.id].action == "created"
        assert last[job.id].to_state == job.status


def test_records_hang_together(bulk):
    for diagnosis in _all(select(Diagnosis).where(Diagnosis.status == "submitted")):
        assert diagnosis.technician_id == diagnosis.job.technician_id
        assert diagnosis.submitted_dt is not None and diagnosis.outcome
        assert diagnosis.fault_category_id is not None
    for evidence in _all(select(ClaimEvidence)):
        assert evidence.photo.job_id == evidence.claim.job_id
    for claim in _all(select(Claim)):
        assert claim.customer_id == claim.job.customer_id and claim.region_id == claim.job.region_id
        assert (claim.decided_dt is not None) == (claim.status in ("approved", "rejected"))
    failed = _all(select(Inspection).where(Inspection.result == "failed"))
    for inspection in failed:
        fails = [c for c in inspection.checks if c.answer == "fail"]
        assert len(fails) == 1 and fails[0].note  # a failed item has a note and a photo
        assert db.session.scalar(select(func.count(Photo.id)).where(Photo.inspection_check_id == fails[0].id)) == 1
    assert db.session.scalar(select(func.count(InspectionCheck.id))) > 0
    links = _all(select(ComplaintLink))
    assert links, "some complaints repeat"
    for link in links:
        later, earlier = db.session.get(Complaint, link.complaint_id), db.session.get(Complaint, link.earlier_id)
        assert later.escalated and not earlier.escalated  # policy 2.6
        assert later.customer_id == earlier.customer_id and later.job_id == earlier.job_id
        assert earlier.logged_dt < later.logged_dt
    assert db.session.scalar(select(func.count(FaultCategory.id))) > 0  # inserted: the test DB had none
    # Quality flags come from the statistics' own rule; acknowledged ones have a supervisor.
    for flag in _all(select(QualityFlag)):
        assert flag.fault_count >= 3
        assert (flag.acknowledged_dt is None) == (flag.acknowledged_by_id is None)


def test_sequences_continue_after_the_bulk_ids(bulk):
    from fieldservice.blueprints.dispatch import operations as ops

    highest_job = db.session.scalar(select(func.max(Job.id)))
    highest_event = db.session.scalar(select(func.max(AuditEvent.id)))
    dispatcher = db.session.scalar(select(User).where(User.role == "dispatcher"))
    customer = ops.create_customer("After Bulk Ltd", "010 1234 5678", "1 Road", dispatcher.region_id)
    job = ops.log_request(actor=dispatcher, customer=customer, request_type="fault_repair", priority="normal",
                          description="Noise.", product_model="PX-200 Press", product_serial="AB-1")
    db.session.commit()
    assert job.id == highest_job + 1
    assert db.session.scalar(select(func.max(AuditEvent.id))) == highest_event + 1
    assert customer.id == db.session.scalar(select(func.max(Customer.id)))


def test_refuses_a_database_with_jobs_unless_appending(bulk):
    with pytest.raises(BulkRefused, match="already has 300 jobs"):
        seed_bulk(10, 2, 1)
    db.session.rollback()
    highest = db.session.scalar(select(func.max(Job.id)))
    more = seed_bulk(20, 2, 1, seed=3, append=True)
    db.session.commit()
    assert more.counts["jobs"] == 20
    assert db.session.scalar(select(func.count(Job.id))) == JOBS + 20
    assert db.session.scalar(select(func.min(Job.id)).where(Job.id > highest)) == highest + 1


def test_supervisor_pages_answer_on_bulk_data(bulk, client):
    supervisor = db.session.scalar(select(User).where(User.role == "supervisor"))
    assert client.login(supervisor.username, BULK_PASSWORD).status_code == 303
    claim = db.session.scalar(select(Claim).order_by(Claim.id))
    job = db.session.scalar(select(Job).where(Job.status == "closed").order_by(Job.id))
    for url in ("/dashboard", "/ledger", "/ledger?outcome=fixed&model=PX", "/claims", "/claims?status=all",
                f"/claims/{claim.id}", "/statistics/faults", "/statistics/quality", "/statistics/weekly",
                "/jobs", f"/jobs/{job.id}", "/dispatch/queue", "/complaints", "/follow-ups", "/inspections",
                "/performance"):
        response = client.get(url)
        assert response.status_code == 200, url
