"""Command-line tools: create-user, deactivate-user, seed-demo."""
from sqlalchemy import func, select

from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Escalation, Job, User
from fieldservice.models.jobs import STATUSES


def test_create_user_and_deactivate_it(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "--username", "Li.Ming", "--role", "technician",
                                 "--region", "north"], input="long-password\nlong-password\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "li.ming"))
    assert user.role == "technician" and user.region.code == "north"
    result = runner.invoke(args=["deactivate-user", "--username", "li.ming"])
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert user.active is False
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.entity_type == "user")) == "deactivate"


def test_seed_demo_gives_one_user_per_role_and_jobs_in_every_state(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    roles = set(db.session.scalars(select(User.role)))
    assert roles == {"technician", "dispatcher", "reviewer", "supervisor"}
    states = set(db.session.scalars(select(Job.status)))
    assert states == set(STATUSES)
    assert db.session.scalar(select(func.count(Escalation.id)).where(Escalation.decided_dt.is_(None))) == 1
    again = runner.invoke(args=["seed-demo", "--if-empty"])
    assert again.exit_code == 0 and "already" in again.output


def test_seed_demo_media_stores_signatures_and_photos_once(s3_app):
    from fieldservice.demo import seed_demo, seed_demo_media
    from fieldservice.models import Claim, Diagnosis, Photo
    from fieldservice.services import storage

    seed_demo()
    db.session.commit()
    assert seed_demo_media() > 0
    diagnoses = list(db.session.scalars(select(Diagnosis).where(Diagnosis.status == "submitted")))
    # Photos and signatures for the recent visits and the history's two claims (older history has none).
    with_photos = {job_id for job_id in db.session.scalars(select(Photo.job_id))}
    assert all(storage.head(d.signature_key) for d in diagnoses if d.job_id in with_photos)
    assert len(with_photos) >= 4 and db.session.scalar(select(func.count(Photo.id))) == 2 * len(with_photos)
    assert sorted(db.session.scalars(select(Claim.status))) == ["approved", "rejected"]
    assert seed_demo_media() == 0  # idempotent
