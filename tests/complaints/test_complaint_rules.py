"""Complaint rules called directly (policy 2.6, 3.5): logging with the job's facts, repeated
complaints escalated at the window's edges, answering and closing, the dashboard counts."""
from __future__ import annotations

from datetime import timedelta

import pytest

from fieldservice.blueprints.complaints import operations as ops
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Complaint, ComplaintLink, Product
from tests.complaints.conftest import NOW, diagnose, fault

WINDOW = timedelta(days=90)  # TestConfig keeps the default COMPLAINT_REPEAT_WINDOW_DAYS


@pytest.fixture(autouse=True)
def _english_messages(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


def log(customer, actor, when, category="fault_not_fixed", **kw) -> Complaint:
    complaint = ops.log_complaint(customer, category, "It broke again.", actor, now=when, **kw)
    db.session.commit()
    return complaint


def test_window_setting_is_ninety_days(app):
    assert app.config["COMPLAINT_REPEAT_WINDOW_DAYS"] == 90


def test_complaint_from_a_job_takes_its_technician_product_fault_and_region(make, desk):
    technician = make.user("technician")
    job = make.job("resolved", technician=technician)
    leak = fault("leak")
    diagnose(job, leak)
    complaint = log(None, desk, NOW, job=job)
    assert (complaint.customer_id, complaint.technician_id, complaint.product_id, complaint.fault_category_id,
            complaint.region_id) == (job.customer_id, technician.id, job.product_id, leak.id, job.customer.region_id)
    assert (complaint.status, complaint.escalated, complaint.logged_by_id) == ("open", False, desk.id)
    events = db.session.scalars(db.select(AuditEvent.action).where(AuditEvent.entity_type == "complaint")).all()
    assert events == ["log"]


def test_repeated_complaint_on_the_same_job_escalates_to_supervisor_with_the_earlier_linked(make, desk):
    job = make.job("resolved")
    first = log(None, desk, NOW - timedelta(days=10), job=job)
    second = log(None, desk, NOW - timedelta(days=5), category="late_arrival", job=job)
    third = log(None, desk, NOW, job=job)
    assert not first.escalated
    assert second.escalated and second.escalated_dt == NOW - timedelta(days=5)
    assert [c.id for c in second.earlier] == [first.id]
    assert third.escalated and [c.id for c in third.earlier] == [first.id, second.id]
    actions = db.session.scalars(db.select(AuditEvent.action).where(AuditEvent.entity_type == "complaint",
                                                                    AuditEvent.entity_id == third.id)).all()
    assert actions == ["log", "escalate"]


@pytest.mark.parametrize("age, repeat", [
    (WINDOW, True),                                  # exactly 90 days: inside (inclusive edge)
    (WINDOW - timedelta(seconds=1), True),
    (WINDOW + timedelta(seconds=1), False),          # 90 days and a second: outside
])
def test_repeat_window_edges(make, desk, age, repeat):
    job = make.job("resolved")
    log(None, desk, NOW - age, job=job)
    assert log(None, desk, NOW, job=job).escalated is repeat


def _product(customer, model="PX-200") -> Product:
    product = Product(customer=customer, model=model, serial=f"S-{model}-{customer.id}")
    db.session.add(product)
    db.session.commit()
    return product


def test_same_product_and_fault_category_is_the_same_issue_without_a_job(make, desk):
    customer = make.customer()
    product, leak = _product(customer), fault("leak")
    earlier = log(customer, desk, NOW - timedelta(days=30), product=product, fault_category=leak)
    later = log(customer, desk, NOW, category="product_quality", product=product, fault_category=leak)
    assert later.escalated and [c.id for c in later.earlier] == [earlier.id]


def test_same_product_and_fault_across_two_jobs_is_a_repeat(make, desk):
    customer = make.customer()
    leak = fault("leak")
    first_job, second_job = make.job("resolved", customer=customer), make.job("resolved", customer=customer)
    second_job.product = first_job.product
    db.session.commit()
    diagnose(first_job, leak)
    diagnose(second_job, leak)
    first = log(None, desk, NOW - timedelta(days=40), job=first_job)
    assert log(None, desk, NOW, job=second_job).earlier == [first]


def test_not_a_repeat_for_another_customer_product_or_fault(make, desk):
    customer, other_customer = make.customer(), make.customer()
    product, other_product = _product(customer), _product(customer, "CV-50")
    leak, wiring = fault("leak"), fault("wiring")
    log(customer, desk, NOW - timedelta(days=1), product=product, fault_category=leak)
    # another customer with the same model and fault
    other = _product(other_customer)
    assert not log(other_customer, desk, NOW, product=other, fault_category=leak).escalated
    # the same customer, a different product
    assert not log(customer, desk, NOW, product=other_product, fault_category=leak).escalated
    # the same product, a different fault
    assert not log(customer, desk, NOW, product=product, fault_category=wiring).escalated
    # the same product, fault not known: not "the same issue"
    assert not log(customer, desk, NOW, product=product).escalated
    assert db.session.scalar(db.select(db.func.count(ComplaintLink.complaint_id))) == 0


def test_closed_earlier_complaints_still_count(make, desk):
    job = make.job("resolved")
    first = log(None, desk, NOW - timedelta(days=20), job=job)
    ops.close_complaint(first, "Sent the technician back; fixed.", desk, now=NOW - timedelta(days=19))
    db.session.commit()
    assert log(None, desk, NOW, job=job).earlier == [first]


def test_a_later_complaint_is_not_earlier(make, desk):
    job = make.job("resolved")
    log(None, desk, NOW + timedelta(days=1), job=job)  # logged after `now` (clock skew): not earlier
    assert ops.earlier_same_issue(job.customer_id, NOW, job_id=job.id) == []


@pytest.mark.parametrize("category, description, message", [
    ("", "Text", "Choose what the complaint is about"),
    ("rudeness", "Text", "Choose what the complaint is about"),
    ("behaviour", "   ", "Describe the complaint"),
])
def test_bad_input_logs_nothing(make, desk, category, description, message):
    customer = make.customer()
    with pytest.raises(ops.ComplaintError, match=message):
        ops.log_complaint(customer, category, description, desk, now=NOW)
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Complaint.id))) == 0


def test_job_of_another_customer_and_roles_are_refused(make, desk):
    job, stranger = make.job("resolved"), make.customer()
    with pytest.raises(ops.ComplaintError, match="another customer"):
        ops.log_complaint(stranger, "behaviour", "Rude.", desk, job=job, now=NOW)
    for role in ("technician", "reviewer"):
        with pytest.raises(ops.ComplaintError):
            ops.log_complaint(job.customer, "behaviour", "Rude.", make.user(role), job=job, now=NOW)
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Complaint.id))) == 0


# --- closing -----------------------------------------------------------------------------


def test_answer_is_required_and_closing_is_final(make, desk):
    complaint = log(make.customer(), desk, NOW)
    with pytest.raises(ops.ComplaintError, match="Write what was done"):
        ops.close_complaint(complaint, "  ", desk, now=NOW)
    db.session.rollback()
    assert db.session.get(Complaint, complaint.id).status == "open"
    ops.close_complaint(complaint, "Apologised; technician retrained.", desk, now=NOW + timedelta(hours=2))
    db.session.commit()
    assert (complaint.status, complaint.answer, complaint.closed_by_id, complaint.closed_dt) == (
        "closed", "Apologised; technician retrained.", desk.id, NOW + timedelta(hours=2))
    with pytest.raises(ops.ComplaintError, match="already closed"):
        ops.close_complaint(complaint, "Again.", desk, now=NOW)
    db.session.rollback()
    assert db.session.get(Complaint, complaint.id).answer == "Apologised; technician retrained."
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.entity_type == "complaint",
                                                          AuditEvent.action == "close"))
    assert (event.actor_id, event.from_state, event.to_state, event.reason) == (
        desk.id, "open", "closed", "Apologised; technician retrained.")


def test_an_escalated_complaint_is_closed_only_by_a_supervisor(make, desk, boss):
    job = make.job("resolved")
    log(None, desk, NOW - timedelta(days=3), job=job)
    repeat = log(None, desk, NOW, job=job)
    with pytest.raises(ops.ComplaintError, match="supervisor"):
        ops.close_complaint(repeat, "Handled.", desk, now=NOW)
    db.session.rollback()
    assert db.session.get(Complaint, repeat.id).status == "open"
    ops.close_complaint(repeat, "Replaced the unit.", boss, now=NOW)
    db.session.commit()
    assert repeat.status == "closed" and repeat.closed_by_id == boss.id


# --- dashboard counts --------------------------------------------------------------------


def test_open_escalated_complaints_count(make, desk, boss):
    job_a, job_b = make.job("resolved"), make.job("resolved")
    log(None, desk, NOW - timedelta(days=2), job=job_a)
    log(None, desk, NOW - timedelta(days=1), job=job_a)          # repeat 1
    log(None, desk, NOW, job=job_a)                               # repeat 2
    log(None, desk, NOW - timedelta(days=2), job=job_b)
    closed = log(None, desk, NOW, job=job_b)                      # repeat 3, closed below
    ops.close_complaint(closed, "Done.", boss, now=NOW)
    db.session.commit()
    assert ops.open_escalated_complaints_count() == 2
