"""What a service report needs: the job's current submitted diagnosis and the customer's language."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ...extensions import db
from ...models import Diagnosis, FaultCategory, Job
from ...models.diagnosis import SUBMITTED


def reported_diagnosis(job: Job) -> Diagnosis | None:
    """The job's current record: its submitted diagnosis (a correction's latest version).

    A draft is not a record yet, and a superseded version was replaced by a correction.
    """
    return db.session.scalar(
        select(Diagnosis)
        .where(Diagnosis.job_id == job.id, Diagnosis.status == SUBMITTED)
        .options(
            joinedload(Diagnosis.technician),
            joinedload(Diagnosis.fault_category).joinedload(FaultCategory.parent),
            selectinload(Diagnosis.parts),
        )
        .order_by(Diagnosis.version.desc())
        .limit(1)
    )


def report_locale(job: Job) -> str:
    """The customer's language for their report, whatever the viewer reads."""
    languages = current_app.config["LANGUAGES"]
    locale = job.customer.locale
    return locale if locale in languages else current_app.config["BABEL_DEFAULT_LOCALE"]
