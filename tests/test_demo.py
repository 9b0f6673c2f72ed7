"""The demo data `make run` seeds (issue 6): weeks of history that give the supervisor's pages
something true to show. Each figure is read back through the same rules the pages use."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from fieldservice.blueprints.complaints import operations as complaints
from fieldservice.blueprints.performance import operations as performance
from fieldservice.blueprints.statistics import operations as statistics
from fieldservice.demo import HISTORY_WEEKS, seed_demo
from fieldservice.extensions import db
from fieldservice.models import Complaint, Diagnosis, FollowUp, Job, QualityFlag, User, utcnow
from fieldservice.services.periods import week_name


def _seeded(app):
    app.config["TIMEZONE"] = "Asia/Shanghai"  # as in make run
    seed_demo()
    db.session.commit()


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def test_history_spans_the_weeks_and_every_resolved_job_has_its_follow_up(app, default_taxonomy):
    _seeded(app)
    now = utcnow()
    oldest = db.session.scalar(select(func.min(Diagnosis.submitted_dt)))
    assert oldest <= now - timedelta(weeks=HISTORY_WEEKS - 1)
    weeks = {week_name(d) for d in db.session.scalars(select(Diagnosis.submitted_dt))}
    assert len(weeks) >= HISTORY_WEEKS
    resolved_or_closed = db.session.scalar(select(func.count(Job.id)).where(Job.resolved_dt.is_not(None)))
    assert db.session.scalar(select(func.count(FollowUp.id))) == resolved_or_closed
    # Every closed job was closed by its follow-up call (policy 2.1).
    closed_without_call = db.session.scalar(select(func.count(Job.id)).where(
        Job.status == "closed", ~Job.id.in_(select(FollowUp.job_id).where(FollowUp.status == "done"))))
    assert closed_without_call == 0


def test_the_supervisor_dashboard_has_something_in_every_count(app, default_taxonomy):
    _seeded(app)
    assert complaints.open_escalated_complaints_count() == 1
    repeat = db.session.scalar(select(Complaint).where(Complaint.escalated.is_(True)))
    assert [c.category for c in repeat.earlier] == ["fault_not_fixed"] and repeat.customer.name.startswith("Tianjin")
    assert complaints.overdue_follow_ups_count() >= 1
    assert statistics.open_quality_flags_count() >= 1
    flags = {(f.iso_week, f.product_model, f.fault_category.code) for f in db.session.scalars(select(QualityFlag))}
    assert (week_name(utcnow() - timedelta(weeks=1)), "FL-8 Filler", "leak") in flags


def test_the_quarters_candidates_include_a_reward_and_a_late_arrival_penalty(app, default_taxonomy):
    _seeded(app)
    candidates = performance.performance_candidates(performance.current_quarter())
    by = {(c.technician.username, c.clause) for c in candidates}
    assert ("tech", "5.1") in by  # no complaint about Li Ming this quarter
    assert ("tech4", "4.1") in by  # came late, and the customer complained
    assert ("tech3", "4.2") in by  # the site manager was not told what was done
    assert ("tech2", "5.2") in by  # the adopted suggestion
    assert ("tech2", "5.1") not in by and ("tech4", "5.1") not in by


def test_last_weeks_summary_is_not_empty(app, default_taxonomy):
    _seeded(app)
    summary = statistics.weekly_summary(week_name(utcnow() - timedelta(weeks=1)))
    assert summary.jobs_opened > 0 and summary.jobs_resolved > 0 and summary.follow_ups_reached > 0
    assert summary.top_faults and dict(summary.top_models).get("FL-8 Filler", 0) >= 5
