"""Complaint fixtures: fault categories, submitted diagnoses, complaints logged at given times."""
from __future__ import annotations

from datetime import datetime, timezone
from itertools import count

import pytest

from fieldservice.extensions import db
from fieldservice.models import Diagnosis, FaultCategory

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
_seq = count(1)


def fault(code: str | None = None) -> FaultCategory:
    """A fault (child of a group), created fresh: each test starts from empty tables."""
    group = db.session.scalar(db.select(FaultCategory).where(FaultCategory.code == "grp"))
    if group is None:
        group = FaultCategory(code="grp", name_en="Mechanical", name_zh="机械")
        db.session.add(group)
        db.session.flush()
    code = code or f"fault{next(_seq)}"
    category = FaultCategory(code=code, name_en=f"Fault {code}", name_zh=f"故障 {code}", parent=group)
    db.session.add(category)
    db.session.commit()
    return category


def diagnose(job, category: FaultCategory) -> Diagnosis:
    """The job's submitted diagnosis naming `category`."""
    diagnosis = Diagnosis(job=job, version=1, status="submitted", technician_id=job.technician_id,
                          fault_category=category, symptom="Stops", root_cause="Worn seal",
                          actions_taken="Replaced the seal", outcome="fixed", contact_name="Wang",
                          submitted_dt=job.created_dt)
    db.session.add(diagnosis)
    db.session.commit()
    return diagnosis


@pytest.fixture
def desk(make):
    return make.user("dispatcher")


@pytest.fixture
def boss(make):
    return make.user("supervisor")
