"""Two dispatchers assigning the same job at the same moment: exactly one wins (no lost update).

Runs on PostgreSQL, where the two requests really overlap on separate connections.
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from fieldservice.blueprints.dispatch import operations as ops
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Job, User
from tests.conftest import is_postgres

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not is_postgres(), reason="the race needs PostgreSQL (set TEST_DATABASE_URL; .ci/run does)"),
]


def test_two_sessions_assigning_at_once_exactly_one_wins(app, make):
    """Both sessions read version 1 before either writes; the versioned UPDATE lets one through."""
    dispatcher_ids = [make.user("dispatcher").id, make.user("dispatcher").id]
    technician_ids = [make.user("technician").id, make.user("technician").id]
    job_id = make.job().id
    db.session.remove()
    both_read = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def assign(i: int) -> None:
        with app.app_context():
            job = db.session.get(Job, job_id)
            seen = job.version
            actor = db.session.get(User, dispatcher_ids[i])
            tech = db.session.get(User, technician_ids[i])
            both_read.wait(timeout=10)
            try:
                ops.assign_job(job, tech, actor, seen)
                db.session.commit()
                outcomes[i] = "won"
            except ops.JobConflict as conflict:
                db.session.rollback()
                outcomes[i] = f"lost:{conflict.job.technician_id}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=assign, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(o.split(":")[0] for o in outcomes.values()) == ["lost", "won"], outcomes
    winner = next(i for i, o in outcomes.items() if o == "won")
    loser_saw = next(o for o in outcomes.values() if o.startswith("lost")).split(":")[1]
    job = db.session.get(Job, job_id)
    assert job.technician_id == technician_ids[winner]
    assert loser_saw == str(technician_ids[winner])  # the loser is told the current state
    assert job.version == 2
    assigns = db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.entity_id == job_id, AuditEvent.action == "assign"))
    assert assigns == 1


def test_two_dispatchers_racing_over_http_one_gets_a_conflict_naming_the_winner(app, make, login):
    first = login("dispatcher", display_name="Wang Fang")
    second = login("dispatcher", display_name="Zhou Lan")
    tech_a = make.user("technician", display_name="Li Ming")
    tech_b = make.user("technician", display_name="Zhao Lei")
    job = make.job()
    job_id, version, a_id, b_id = job.id, job.version, tech_a.id, tech_b.id
    go = threading.Barrier(2)
    responses = {}

    def post(name, client, tech_id):
        go.wait(timeout=10)
        responses[name] = client.post_form(f"/jobs/{job_id}/assign", {"technician_id": tech_id, "version": version},
                                           htmx_target=f"job-card-{job_id}")

    threads = [threading.Thread(target=post, args=("a", first, a_id)),
               threading.Thread(target=post, args=("b", second, b_id))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    codes = sorted(r.status_code for r in responses.values())
    assert codes == [200, 409], codes
    loser = next(r for r in responses.values() if r.status_code == 409).get_data(as_text=True)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    winner_name = "Li Ming" if job.technician_id == a_id else "Zhao Lei"
    assert winner_name in loser
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.entity_id == job.id, AuditEvent.action == "assign")) == 1
