"""Penalty (policy 4) and reward (policy 5) candidates, computed from hand-built records, and the
supervisor's final decisions on them."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from fieldservice.blueprints.performance import operations as ops
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, PerformanceRecord
from tests.performance.conftest import AFTER_Q3, IN_Q3, Q3, claim, complaint, inspection, keys, late, suggestion


@pytest.fixture(autouse=True)
def _english_messages(app):
    """Refusals are lazy translated strings: read them as an English-speaking user would."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


def only(candidates, clause):
    return [c for c in candidates if c.clause == clause]


# --- 4.1 late arrival that led to a complaint --------------------------------------------


def test_late_arrival_plus_complaint_is_a_4_1_penalty_candidate(make, desk, tech):
    t = tech()
    job = late(make.job("resolved", technician=t))
    c = complaint(job, "late_arrival", IN_Q3)

    found = only(ops.performance_candidates(Q3, AFTER_Q3), "4.1")

    assert [(x.basis_key, x.technician.id, x.kind, x.complaint.id, x.job.id) for x in found] == [
        (f"4.1:complaint:{c.id}", t.id, "penalty", c.id, job.id)]
    assert c.reference in found[0].summary and job.reference in found[0].summary


def test_late_arrival_complaint_about_a_job_that_was_on_time_is_no_candidate(make, desk, tech):
    """Policy 4.1 penalises lateness that LED to a complaint: the job must have been late."""
    t = tech()
    job = late(make.job("resolved", technician=t), False)
    complaint(job, "late_arrival", IN_Q3)
    complaint(None, "late_arrival", IN_Q3, technician=t, customer=job.customer)  # no job: lateness unknown

    assert only(ops.performance_candidates(Q3, AFTER_Q3), "4.1") == []


def test_the_technician_the_complaint_names_comes_before_the_jobs(make, desk, tech):
    on_job, named = tech(), tech()
    job = late(make.job("resolved", technician=on_job))
    complaint(job, "late_arrival", IN_Q3, technician=named)

    assert [c.technician.id for c in only(ops.performance_candidates(Q3, AFTER_Q3), "4.1")] == [named.id]


# --- 4.2 poor communication ----------------------------------------------------------------


def test_poor_communication_complaint_is_a_4_2_candidate_about_its_technician(make, desk, tech):
    t = tech()
    job = make.job("resolved", technician=t)
    c = complaint(job, "poor_communication", IN_Q3)
    complaint(None, "poor_communication", IN_Q3, customer=job.customer)  # about nobody: no candidate
    complaint(job, "behaviour", IN_Q3)  # another category: no penalty clause

    found = ops.performance_candidates(Q3, AFTER_Q3)
    assert [(x.basis_key, x.technician.id) for x in only(found, "4.2")] == [(f"4.2:complaint:{c.id}", t.id)]
    assert {x.clause for x in found if x.kind == "penalty"} == {"4.2"}


# --- 4.3 delivery inspection negligence ----------------------------------------------------


def test_inspection_negligence_is_about_the_inspector_of_the_site_delivery(make, desk, tech):
    """The job's technician handed over; another technician did the delivery inspection."""
    driver, inspector = tech(), tech()
    job = make.job("resolved", technician=driver, request_type="delivery_inspection")
    done = inspection("site_delivery", inspector, "passed", IN_Q3 - timedelta(days=2), job=job)
    c = complaint(job, "inspection_negligence", IN_Q3)

    everything = ops.performance_candidates(Q3, AFTER_Q3)
    assert [(x.basis_key, x.technician.id, x.inspection.id) for x in only(everything, "4.3")] == [
        (f"4.3:complaint:{c.id}", inspector.id, done.id)]
    # The complaint counts against both for 5.1: the inspector it is held against, the job's technician.
    assert only(everything, "5.1") == []


def test_inspection_negligence_without_an_inspection_falls_back_to_the_jobs_technician(make, desk, tech):
    t = tech()
    job = make.job("resolved", technician=t)
    complaint(job, "inspection_negligence", IN_Q3)
    assert [x.technician.id for x in only(ops.performance_candidates(Q3, AFTER_Q3), "4.3")] == [t.id]


# --- 4.4 loss after a centre receipt inspection ---------------------------------------------


def test_approved_claim_on_goods_a_receipt_inspection_passed_is_a_4_4_candidate(make, desk, tech):
    receiver, other = tech(), tech()
    customer = make.customer()
    missed = inspection("centre_receipt", receiver, "passed", IN_Q3 - timedelta(days=20), customer=customer)
    paid = claim(missed, customer, desk, "approved", IN_Q3)
    # Not a loss from negligence: the inspection caught the damage, or the claim was not paid,
    # or it was paid in another quarter.
    caught = inspection("centre_receipt", other, "failed", IN_Q3 - timedelta(days=20), customer=customer)
    claim(caught, customer, desk, "approved", IN_Q3)
    claim(missed, customer, desk, "rejected", IN_Q3)
    claim(missed, customer, desk, "approved", AFTER_Q3)

    found = only(ops.performance_candidates(Q3, AFTER_Q3), "4.4")
    assert [(x.basis_key, x.technician.id, x.claim.id) for x in found] == [(f"4.4:claim:{paid.id}", receiver.id, paid.id)]


# --- 5.1 a quarter with no complaint --------------------------------------------------------


def test_zero_complaint_technician_is_a_5_1_reward_candidate(make, desk, tech):
    clean, named, on_job = tech(), tech(), tech()
    tech(active=False)  # left the company: no reward
    make.user("dispatcher")  # not a technician
    job = make.job("resolved", technician=on_job)
    complaint(job, "fault_not_fixed", IN_Q3)  # any category counts against 5.1
    complaint(None, "other", IN_Q3, technician=named, customer=job.customer)
    complaint(None, "other", IN_Q3 - timedelta(days=60), technician=clean, customer=job.customer)  # Q2

    found = only(ops.performance_candidates(Q3, AFTER_Q3), "5.1")
    assert [(x.basis_key, x.provisional) for x in found] == [(f"5.1:{Q3}:user:{clean.id}", False)]


def test_technician_hired_after_the_quarter_is_no_5_1_candidate(make, tech):
    tech(created_dt=AFTER_Q3)
    assert only(ops.performance_candidates(Q3, AFTER_Q3 + timedelta(days=1)), "5.1") == []


def test_5_1_is_provisional_while_the_quarter_runs_and_a_later_complaint_removes_it(make, desk, tech, boss):
    t = tech()
    key = f"5.1:{Q3}:user:{t.id}"
    [candidate] = only(ops.performance_candidates(Q3, IN_Q3), "5.1")
    assert (candidate.basis_key, candidate.provisional) == (key, True)

    with pytest.raises(ops.PerformanceError, match="not over"):
        ops.decide_candidate(key, Q3, "confirm", "minor", "Good quarter.", boss, now=IN_Q3)

    job = make.job("resolved", technician=t)
    complaint(job, "behaviour", IN_Q3 + timedelta(days=3))
    assert only(ops.performance_candidates(Q3, IN_Q3 + timedelta(days=4)), "5.1") == []


def test_a_provisional_5_1_candidate_may_be_dismissed(tech, boss):
    t = tech()
    key = f"5.1:{Q3}:user:{t.id}"
    record = ops.decide_candidate(key, Q3, "dismiss", "", "Was on leave most of the quarter.", boss, now=IN_Q3)
    db.session.commit()
    assert (record.status, record.severity, record.kind, record.technician_id) == ("dismissed", None, "reward", t.id)
    assert key not in keys(ops.performance_candidates(Q3, AFTER_Q3))


def test_no_5_1_candidates_before_the_quarter_begins(tech):
    tech()
    assert only(ops.performance_candidates("2026-Q4", IN_Q3), "5.1") == []


# --- 5.2 an adopted suggestion -------------------------------------------------------------


def test_adopted_suggestion_of_a_technician_is_a_5_2_candidate(make, tech, boss, desk):
    t = tech()
    adopted = suggestion(t, "adopted", IN_Q3, boss)
    suggestion(t, "not_adopted", IN_Q3, boss)
    suggestion(t, "proposed")
    suggestion(desk, "adopted", IN_Q3, boss)  # a dispatcher's: policy 5.2 rewards technicians here
    suggestion(t, "adopted", AFTER_Q3, boss)  # another quarter

    found = only(ops.performance_candidates(Q3, AFTER_Q3), "5.2")
    assert [(x.basis_key, x.technician.id, x.suggestion.id) for x in found] == [
        (f"5.2:suggestion:{adopted.id}", t.id, adopted.id)]


def test_a_bad_quarter_name_is_refused_clearly():
    with pytest.raises(ops.PerformanceError, match="not a quarter"):
        ops.performance_candidates("2026-Q5")


# --- decisions -----------------------------------------------------------------------------


def _penalty(make, tech):
    t = tech()
    job = late(make.job("resolved", technician=t))
    c = complaint(job, "late_arrival", IN_Q3)
    return t, f"4.1:complaint:{c.id}"


def test_confirming_stores_a_final_audited_record_and_the_candidate_is_gone(make, desk, tech, boss):
    t, key = _penalty(make, tech)
    events = db.session.scalar(db.select(db.func.count(AuditEvent.id)))

    record = ops.decide_candidate(key, Q3, "confirm", "moderate", "Two hours late, customer lost a shift.", boss,
                                  now=AFTER_Q3)
    db.session.commit()

    assert (record.status, record.severity, record.clause, record.kind, record.quarter, record.technician_id,
            record.decided_by_id) == ("confirmed", "moderate", "4.1", "penalty", Q3, t.id, boss.id)
    assert key not in keys(ops.performance_candidates(Q3, AFTER_Q3))
    event = db.session.scalar(db.select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert (event.entity_type, event.entity_id, event.action, event.from_state, event.to_state, event.actor_id) == (
        "performance_record", record.id, "confirm", "candidate", "confirmed", boss.id)
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id))) == events + 1


def test_deciding_twice_is_refused_and_the_first_decision_stands(make, desk, tech, boss):
    _, key = _penalty(make, tech)
    ops.decide_candidate(key, Q3, "confirm", "minor", "Late.", boss, now=AFTER_Q3)
    db.session.commit()
    other_boss = make.user("supervisor")

    with pytest.raises(ops.PerformanceError, match="confirmed record is final"):
        ops.decide_candidate(key, Q3, "dismiss", "", "Not his fault after all.", other_boss, now=AFTER_Q3)
    db.session.rollback()
    [record] = db.session.scalars(db.select(PerformanceRecord)).all()
    assert (record.status, record.severity, record.note) == ("confirmed", "minor", "Late.")


def test_a_simultaneous_second_decision_is_refused_by_the_unique_basis(make, desk, tech, boss):
    """Both supervisors saw the candidate; the other one's record lands first (another session)."""
    t, key = _penalty(make, tech)
    [candidate] = [c for c in ops.performance_candidates(Q3, AFTER_Q3) if c.basis_key == key]
    with Session(db.engine) as other:
        other.add(PerformanceRecord(technician_id=t.id, quarter=Q3, kind="penalty", clause="4.1", basis_key=key,
                                    status="dismissed", note="Traffic accident on the ring road.",
                                    decided_by_id=boss.id, decided_dt=AFTER_Q3))
        other.commit()

    with pytest.raises(ops.PerformanceError, match="dismissed"):
        ops.record_decision(candidate, "confirm", "serious", "Late again.", boss, AFTER_Q3)
    db.session.commit()  # the session is still usable: only the savepoint was rolled back
    assert db.session.scalar(db.select(db.func.count(PerformanceRecord.id))) == 1


@pytest.mark.parametrize("decision, severity, note, message", [
    ("confirm", "", "Late.", "severity"),
    ("confirm", "catastrophic", "Late.", "severity"),
    ("confirm", "minor", "  ", "note"),
    ("dismiss", "", "", "note"),
    ("forgive", "minor", "Late.", "decision"),
])
def test_a_decision_needs_a_severity_to_confirm_and_always_a_note(make, desk, tech, boss, decision, severity, note,
                                                                   message):
    _, key = _penalty(make, tech)
    with pytest.raises(ops.PerformanceError) as refused:
        ops.decide_candidate(key, Q3, decision, severity, note, boss, now=AFTER_Q3)
    assert refused.value.field == message
    assert db.session.scalar(db.select(db.func.count(PerformanceRecord.id))) == 0


def test_only_a_supervisor_decides_and_only_on_a_live_candidate(make, desk, tech, boss):
    _, key = _penalty(make, tech)
    with pytest.raises(ops.PerformanceError, match="supervisor"):
        ops.decide_candidate(key, Q3, "confirm", "minor", "Late.", desk, now=AFTER_Q3)
    with pytest.raises(ops.PerformanceError, match="no longer a candidate"):
        ops.decide_candidate("4.1:complaint:999999", Q3, "confirm", "minor", "Late.", boss, now=AFTER_Q3)
    with pytest.raises(ops.PerformanceError, match="no longer a candidate"):  # right key, wrong quarter
        ops.decide_candidate(key, "2026-Q2", "confirm", "minor", "Late.", boss, now=AFTER_Q3)
    assert db.session.scalar(db.select(db.func.count(PerformanceRecord.id))) == 0


def test_pending_count_is_the_number_of_undecided_candidates(make, desk, tech, boss):
    t, key = _penalty(make, tech)  # t has a complaint: no 5.1 for t
    tech()  # a clean technician: one 5.1
    assert ops.pending_candidates_count(Q3, now=AFTER_Q3) == 2
    ops.decide_candidate(key, Q3, "dismiss", "", "Customer withdrew it.", boss, now=AFTER_Q3)
    db.session.commit()
    assert ops.pending_candidates_count(Q3, now=AFTER_Q3) == 1
    assert ops.pending_candidates_count(now=AFTER_Q3) == len(ops.performance_candidates("2026-Q4", AFTER_Q3))


def test_candidates_are_grouped_by_technician_penalties_first(make, desk, tech, boss):
    t = tech(display_name="Anna")
    other = tech(display_name="Bo")
    job = late(make.job("resolved", technician=t))
    complaint(job, "late_arrival", IN_Q3)
    complaint(job, "poor_communication", IN_Q3)
    suggestion(t, "adopted", IN_Q3, boss)

    groups = ops.candidates_by_technician(ops.performance_candidates(Q3, AFTER_Q3))
    assert [(u.display_name, [c.clause for c in items]) for u, items in groups] == [
        ("Anna", ["4.1", "4.2", "5.2"]), ("Bo", ["5.1"])]
    assert other.id == groups[1][0].id
