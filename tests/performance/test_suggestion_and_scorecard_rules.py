"""Quality improvement suggestions (policy 3.11, 5.2) and technicians' scorecards (policy 4, 5)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from fieldservice.blueprints.claims import operations as claim_ops
from fieldservice.blueprints.performance import operations as ops
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Diagnosis, FaultCategory, PerformanceRecord, Suggestion
from tests.performance.conftest import AFTER_Q3, IN_Q3, Q3, complaint, late


@pytest.fixture(autouse=True)
def _english_messages(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


def _claim_of(make, technician):
    """A draft claim opened by `technician` from their job's submitted diagnosis."""
    job = make.job("resolved", technician=technician)
    diagnosis = Diagnosis(job=job, version=1, status="submitted", technician_id=technician.id, symptom="Cracked",
                          root_cause="Transport", actions_taken="Photographed", outcome="fixed", contact_name="Li",
                          submitted_dt=job.created_dt)
    db.session.add(diagnosis)
    db.session.flush()
    claim = claim_ops.open_claim(technician, claim_ops.ClaimData("replacement", "Cracked roller."),
                                 diagnosis=diagnosis)
    db.session.commit()
    return claim


# --- suggestions ---------------------------------------------------------------------------


def test_anyone_on_staff_submits_a_suggestion_linked_to_a_fault_and_their_claim(make, tech):
    t = tech()
    group = FaultCategory(code="pack", name_en="Packaging", name_zh="包装")
    fault = FaultCategory(code="crushed", name_en="Crushed carton", name_zh="纸箱压坏", parent=group)
    db.session.add_all([group, fault])
    db.session.commit()
    claim = _claim_of(make, t)

    s = ops.submit_suggestion(t, ops.SuggestionData(" Corner protectors ", "Cartons arrive crushed.", "PX-200",
                                                    fault.id, claim.reference.lower()))
    db.session.commit()

    assert (s.title, s.status, s.product_model, s.fault_category_id, s.claim_id, s.author_id) == (
        "Corner protectors", "proposed", "PX-200", fault.id, claim.id, t.id)
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.entity_type == "suggestion"))
    assert (event.entity_id, event.action, event.to_state, event.actor_id) == (s.id, "submit", "proposed", t.id)


def test_a_claim_reference_must_name_a_claim_the_author_may_see(make, tech):
    """Existing but someone else's, or not existing: the same refusal (no probing of numbers)."""
    owner, stranger = tech(), tech()
    claim = _claim_of(make, owner)
    for reference in (claim.reference, "C999999", "claim twelve"):
        with pytest.raises(ops.PerformanceError, match="No claim") as refused:
            ops.submit_suggestion(stranger, ops.SuggestionData("Title", "Body", claim_reference=reference))
        assert refused.value.field == "claim_reference"
    assert ops.claim_for_suggestion(owner, str(claim.id)).id == claim.id  # "12" works as well as "C000012"
    assert db.session.scalar(db.select(db.func.count(Suggestion.id))) == 0


@pytest.mark.parametrize("title, body, field", [("", "Body", "title"), ("x" * 201, "Body", "title"),
                                                ("Title", "  ", "body")])
def test_a_suggestion_needs_a_title_and_a_description(tech, title, body, field):
    with pytest.raises(ops.PerformanceError) as refused:
        ops.submit_suggestion(tech(), ops.SuggestionData(title, body))
    assert refused.value.field == field


def test_supervisor_decides_a_suggestion_once_with_a_note(make, tech, boss):
    t = tech()
    s = ops.submit_suggestion(t, ops.SuggestionData("Title", "Body"))
    db.session.commit()
    with pytest.raises(ops.PerformanceError, match="note"):
        ops.decide_suggestion(s, "adopted", " ", boss)
    with pytest.raises(ops.PerformanceError, match="supervisor"):
        ops.decide_suggestion(s, "adopted", "Yes.", make.user("dispatcher"))
    with pytest.raises(ops.PerformanceError, match="adopted or not"):
        ops.decide_suggestion(s, "maybe", "Yes.", boss)

    ops.decide_suggestion(s, "adopted", "Factory changes the carton in Q4.", boss, now=IN_Q3)
    db.session.commit()
    with pytest.raises(ops.PerformanceError, match="final"):
        ops.decide_suggestion(s, "not_adopted", "Changed my mind.", boss)
    db.session.rollback()

    db.session.expire_all()
    s = db.session.get(Suggestion, s.id)
    assert (s.status, s.decided_by_id, s.decided_dt, s.decision_note) == (
        "adopted", boss.id, IN_Q3, "Factory changes the carton in Q4.")
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "decide"))
    assert (event.entity_id, event.from_state, event.to_state, event.reason) == (
        s.id, "proposed", "adopted", "Factory changes the carton in Q4.")
    assert [c.basis_key for c in ops.performance_candidates(Q3, AFTER_Q3) if c.clause == "5.2"] == [
        f"5.2:suggestion:{s.id}"]


def test_awaiting_suggestions_count(tech, boss):
    t = tech()
    for _ in range(3):
        ops.submit_suggestion(t, ops.SuggestionData("Title", "Body"))
    decided = ops.submit_suggestion(t, ops.SuggestionData("Title", "Body"))
    ops.decide_suggestion(decided, "not_adopted", "Too costly.", boss)
    db.session.commit()
    assert ops.awaiting_suggestions_count() == 3
    assert db.session.scalar(db.select(db.func.count()).select_from(
        ops.suggestions_query("proposed").subquery())) == 3


# --- scorecards ----------------------------------------------------------------------------


def test_scorecard_counts_by_quarter_and_shows_only_confirmed_records(make, desk, tech, boss):
    t, other = tech(), tech()
    late_job = late(make.job("resolved", technician=t))  # checked in and resolved now (2026-Q4)
    make.job("resolved", technician=t)
    make.job("on_site", technician=t)  # not resolved
    make.job("resolved", technician=other)
    first = complaint(late_job, "late_arrival", IN_Q3)
    complaint(late_job, "other", IN_Q3 + timedelta(days=1))
    complaint(None, "behaviour", IN_Q3, technician=t, customer=late_job.customer)
    complaint(None, "behaviour", IN_Q3, technician=other, customer=late_job.customer)
    communication = complaint(late_job, "poor_communication", IN_Q3)
    ops.decide_candidate(f"4.1:complaint:{first.id}", Q3, "confirm", "serious", "Three hours late.", boss,
                         now=AFTER_Q3)
    ops.decide_candidate(f"4.2:complaint:{communication.id}", Q3, "dismiss", "", "Customer was unreachable.", boss,
                         now=AFTER_Q3)
    db.session.commit()

    card = ops.scorecard(t, now=AFTER_Q3 + timedelta(days=60))
    lines = {line.quarter: (line.complaints, line.late_arrivals, line.jobs_resolved, line.penalties, line.rewards)
             for line in card.lines}
    now_quarter = ops.current_quarter()  # where the factory's jobs were checked in and resolved
    expected = {Q3: (4, 0, 0, 1, 0), "2026-Q4": (0, 0, 0, 0, 0)}
    expected[now_quarter] = (0, 1, 2, 0, 0) if now_quarter != Q3 else (4, 1, 2, 1, 0)
    assert lines == expected
    assert [(r.clause, r.status) for r in card.records] == [("4.1", "confirmed")]
    assert db.session.scalar(db.select(db.func.count(PerformanceRecord.id))) == 2  # the dismissed one is hidden
    assert (card.totals.complaints, card.totals.penalties) == (4, 1)
