"""The dashboard's count of pending candidates is computed in SQL (issue 7); it must be exactly
the number of candidates performance_candidates lists, whatever the records and decisions."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event

from fieldservice.blueprints.performance import operations as ops
from fieldservice.extensions import db
from fieldservice.models import Inspection
from tests.performance.conftest import AFTER_Q3, IN_Q3, Q3, claim, complaint, inspection, late, suggestion

Q3_START = datetime(2026, 7, 1, tzinfo=timezone.utc)
Q4_START = datetime(2026, 10, 1, tzinfo=timezone.utc)
QUARTERS = ("2026-Q2", Q3, "2026-Q4")
MOMENTS = (IN_Q3, AFTER_Q3, datetime(2027, 1, 10, tzinfo=timezone.utc))


@pytest.fixture(autouse=True)
def _english_messages(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


def assert_count_is_the_candidates(expected_q3_after: int | None = None):
    for quarter in QUARTERS:
        for now in MOMENTS:
            listed = len(ops.performance_candidates(quarter, now))
            assert ops.pending_candidates_count(quarter, now) == listed, (quarter, now)
    if expected_q3_after is not None:  # the scenario really has candidates to count
        assert ops.pending_candidates_count(Q3, AFTER_Q3) == expected_q3_after


@pytest.fixture
def busy_quarter(make, desk, tech, boss):
    """Every rule of policy 4 and 5, with records that must not count, around 2026-Q3."""
    people = {name: tech(display_name=name) for name in (
        "late", "on_time", "named", "talker", "driver", "inspector", "corrector", "drafter", "fallback",
        "named_negligent", "clean", "clean_too", "receiver", "author", "edge_in", "edge_out")}
    tech(display_name="left", active=False)
    tech(display_name="hired_later", created_dt=AFTER_Q3)
    p = people
    rows = {}

    # 4.1: a late job (candidate); an on-time job and a complaint without a job (none).
    late_job = late(make.job("resolved", technician=p["late"]))
    rows["4.1"] = complaint(late_job, "late_arrival", IN_Q3)
    complaint(late(make.job("resolved", technician=p["on_time"]), False), "late_arrival", IN_Q3)
    complaint(None, "late_arrival", IN_Q3, technician=p["named"], customer=late_job.customer)
    # ... the technician a complaint names comes before the job's.
    rows["4.1 named"] = complaint(late(make.job("resolved", technician=p["clean_too"])), "late_arrival", IN_Q3,
                                  technician=p["named"])

    # 4.2: about the job's technician; about nobody (none).
    rows["4.2"] = complaint(make.job("resolved", technician=p["talker"]), "poor_communication", IN_Q3)
    complaint(None, "poor_communication", IN_Q3, customer=late_job.customer)

    # 4.3: the latest submitted delivery inspection's inspector (a correction wins, a draft does
    # not count); without an inspection the job's technician; a named technician first.
    delivery = make.job("resolved", technician=p["driver"], request_type="delivery_inspection")
    inspection("site_delivery", p["inspector"], "passed", IN_Q3 - timedelta(days=5), job=delivery)
    inspection("site_delivery", p["corrector"], "passed", IN_Q3 - timedelta(days=3), job=delivery)
    draft = inspection("site_delivery", p["drafter"], "passed", IN_Q3 - timedelta(days=1), job=delivery)
    draft.status = "draft"
    # A centre-receipt inspection tied to the job is no delivery inspection.
    inspection("centre_receipt", p["drafter"], "passed", IN_Q3 - timedelta(days=1), job=delivery)
    db.session.commit()
    rows["4.3"] = complaint(delivery, "inspection_negligence", IN_Q3)
    # The corrector has a complaint of their own: the earlier inspector's 5.1 tells whom 4.3 chose.
    complaint(make.job("resolved", technician=p["corrector"]), "behaviour", IN_Q3)
    rows["4.3 fallback"] = complaint(make.job("resolved", technician=p["fallback"]), "inspection_negligence", IN_Q3)
    other_delivery = make.job("resolved", technician=p["driver"], request_type="delivery_inspection")
    inspection("site_delivery", p["inspector"], "passed", IN_Q3 - timedelta(days=3), job=other_delivery)
    rows["4.3 named"] = complaint(other_delivery, "inspection_negligence", IN_Q3, technician=p["named_negligent"])
    complaint(None, "inspection_negligence", IN_Q3, customer=late_job.customer)  # about nobody

    # 4.4: approved in the quarter on goods a receipt inspection passed; the rest not.
    customer = make.customer()
    missed = inspection("centre_receipt", p["receiver"], "passed", IN_Q3 - timedelta(days=20), customer=customer)
    rows["4.4"] = claim(missed, customer, desk, "approved", IN_Q3)
    claim(missed, customer, desk, "rejected", IN_Q3)
    claim(missed, customer, desk, "approved", AFTER_Q3)
    caught = inspection("centre_receipt", p["receiver"], "failed", IN_Q3 - timedelta(days=20), customer=customer)
    claim(caught, customer, desk, "approved", IN_Q3)

    # 5.2: a technician's adopted suggestion; not a dispatcher's, not one still proposed.
    rows["5.2"] = suggestion(p["author"], "adopted", IN_Q3, boss)
    suggestion(desk, "adopted", IN_Q3, boss)
    suggestion(p["author"], "proposed")

    # Quarter edges: the first moment of Q3 is in Q3, the first moment of Q4 is not.
    complaint(make.job("resolved", technician=p["edge_in"]), "behaviour", Q3_START)
    complaint(make.job("resolved", technician=p["edge_out"]), "poor_communication", Q4_START)
    complaint(make.job("resolved", technician=p["edge_out"]), "poor_communication", Q3_START - timedelta(seconds=1))
    return people, rows


# Q3, counted by hand: 4.1 ×2, 4.2, 4.3 ×3, 4.4, 5.2 and six 5.1 (see the first test).
Q3_CANDIDATES = 14


def test_the_sql_count_equals_the_candidates_listed(busy_quarter):
    people, _ = busy_quarter
    candidates = ops.performance_candidates(Q3, AFTER_Q3)
    rewarded = {c.technician.display_name for c in candidates if c.clause == "5.1"}
    # The corrector (latest delivery inspection) is held against; the first inspector and the
    # drafter are not; the named technician of a 4.3 complaint is, the inspection's inspector not.
    assert rewarded == {"clean", "receiver", "author", "edge_out", "inspector", "drafter"}
    assert len(candidates) == Q3_CANDIDATES
    assert_count_is_the_candidates(Q3_CANDIDATES)


def test_the_sql_count_leaves_out_decided_candidates(busy_quarter, boss):
    people, rows = busy_quarter
    ops.decide_candidate(f"4.1:complaint:{rows['4.1'].id}", Q3, "confirm", "minor", "Late.", boss, now=AFTER_Q3)
    ops.decide_candidate(f"4.3:complaint:{rows['4.3'].id}", Q3, "dismiss", "", "Carrier's fault.", boss,
                         now=AFTER_Q3)
    ops.decide_candidate(f"4.4:claim:{rows['4.4'].id}", Q3, "confirm", "serious", "Paid.", boss, now=AFTER_Q3)
    ops.decide_candidate(f"5.1:{Q3}:user:{people['clean'].id}", Q3, "confirm", "minor", "Good.", boss, now=AFTER_Q3)
    ops.decide_candidate(f"5.2:suggestion:{rows['5.2'].id}", Q3, "confirm", "minor", "Adopted.", boss, now=AFTER_Q3)
    db.session.commit()
    assert_count_is_the_candidates(Q3_CANDIDATES - 5)


def test_a_decision_on_another_quarters_5_1_does_not_hide_this_ones(tech, boss):
    t = tech()
    ops.decide_candidate(f"5.1:2026-Q2:user:{t.id}", "2026-Q2", "dismiss", "", "On leave.", boss, now=AFTER_Q3)
    db.session.commit()
    assert ops.pending_candidates_count("2026-Q2", AFTER_Q3) == 0
    assert_count_is_the_candidates(1)


def test_provisional_5_1_counts_while_the_quarter_runs_and_none_before_it_begins(tech):
    tech(), tech()
    assert ops.pending_candidates_count(Q3, IN_Q3) == 2 == len(ops.performance_candidates(Q3, IN_Q3))
    assert ops.pending_candidates_count("2026-Q4", IN_Q3) == 0 == len(ops.performance_candidates("2026-Q4", IN_Q3))


def test_an_inspection_without_a_submission_time_orders_as_in_the_list(make, desk, tech):
    """Two submitted delivery inspections, one with no submitted_dt: whichever the database's
    ordering makes the latest, the count and the list agree on whom the complaint is held against."""
    driver, first, second = tech(), tech(), tech()
    job = make.job("resolved", technician=driver, request_type="delivery_inspection")
    inspection("site_delivery", first, "passed", IN_Q3 - timedelta(days=3), job=job)
    odd = inspection("site_delivery", second, "passed", IN_Q3 - timedelta(days=2), job=job)
    db.session.execute(db.update(Inspection).where(Inspection.id == odd.id).values(submitted_dt=None))
    db.session.commit()
    complaint(job, "inspection_negligence", IN_Q3)
    # The second has a complaint of their own: the first's 5.1 tells whom 4.3 chose.
    complaint(make.job("resolved", technician=second), "behaviour", IN_Q3)
    assert_count_is_the_candidates()


def test_the_count_is_a_few_statements_whatever_the_data(busy_quarter):
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        ops.pending_candidates_count(Q3, AFTER_Q3)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    # One per rule (complaints, losses, suggestions, a clean quarter), and for 5.1 a second one
    # because some technicians (clean, ...) are named by no complaint of Q3.
    assert len(statements) == 5


@pytest.mark.parametrize("app_config", [{"TIMEZONE": "Asia/Shanghai"}])
def test_quarter_edges_in_the_centres_zone(make, desk, tech, app_config):
    """30 September 23:59:59 in Shanghai is Q3, one second later Q4: both ways agree."""
    a, b = tech(), tech()
    last_second = datetime(2026, 9, 30, 15, 59, 59, tzinfo=timezone.utc)
    complaint(make.job("resolved", technician=a), "poor_communication", last_second)
    complaint(make.job("resolved", technician=b), "poor_communication", last_second + timedelta(seconds=1))
    assert_count_is_the_candidates(2)  # Q3: a's 4.2 and b's 5.1
    assert ops.pending_candidates_count("2026-Q4", MOMENTS[-1]) == 2  # Q4: b's 4.2 and a's 5.1


def test_held_only_as_the_inspector_of_a_delivery_takes_away_the_5_1(make, tech):
    """A 4.3 complaint naming nobody is held against the delivery's inspector: their quarter is
    not clean, though no complaint names them nor is on a job of theirs; the job's technician's
    neither (on a job of theirs)."""
    driver, inspector, bystander = tech(display_name="driver"), tech(display_name="inspector"), tech()
    delivery = make.job("resolved", technician=driver, request_type="delivery_inspection")
    inspection("site_delivery", inspector, "passed", IN_Q3 - timedelta(days=2), job=delivery)
    complaint(delivery, "inspection_negligence", IN_Q3)
    candidates = ops.performance_candidates(Q3, AFTER_Q3)
    assert {(c.clause, c.technician.id) for c in candidates} == {("4.3", inspector.id), ("5.1", bystander.id)}
    assert_count_is_the_candidates(2)


def test_a_quarter_where_every_technician_is_named_counts_no_5_1_in_four_statements(make, tech):
    """The usual busy quarter: each technician named by some complaint, so the 5.1 count stops
    after its first statement."""
    first, second = tech(), tech()
    for technician in (first, second):
        complaint(make.job("resolved", technician=technician), "behaviour", IN_Q3, technician=technician)
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert ops.pending_candidates_count(Q3, AFTER_Q3) == 0
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(statements) == 4
    assert_count_is_the_candidates(0)
