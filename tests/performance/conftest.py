"""Performance fixtures: complaints, inspections, claims and suggestions built by hand at given
times, so each rule of policy 4 and 5 can be checked against a hand-counted expectation.

The quarter used is 2026-Q3 (1 July to 30 September), in UTC unless a test sets TIMEZONE.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from fieldservice.extensions import db
from fieldservice.models import ChecklistTemplate, Claim, Complaint, Inspection, Suggestion, User

Q3 = "2026-Q3"
IN_Q3 = datetime(2026, 8, 10, 9, 0, tzinfo=timezone.utc)
AFTER_Q3 = datetime(2026, 10, 15, 9, 0, tzinfo=timezone.utc)  # Q3 is over: rewards can be confirmed
HIRED = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)  # before the quarter: a 5.1 candidate


@pytest.fixture
def boss(make) -> User:
    return make.user("supervisor")


@pytest.fixture
def desk(make) -> User:
    return make.user("dispatcher")


@pytest.fixture
def tech(make):
    """tech(name=None, **kw): a technician hired before the quarter."""

    def build(**kw) -> User:
        kw.setdefault("created_dt", HIRED)
        return make.user("technician", **kw)

    return build


def complaint(job, category: str, when: datetime, *, technician: User | None = None, customer=None,
              logged_by: User | None = None) -> Complaint:
    """A complaint logged at `when`, about a job (or only a customer when job is None)."""
    customer = customer or job.customer
    logged_by = logged_by or db.session.scalar(db.select(User).where(User.role == "dispatcher"))
    row = Complaint(customer_id=customer.id, region_id=customer.region_id, job_id=job.id if job else None,
                    technician_id=technician.id if technician else None, category=category,
                    description="The customer is unhappy.", logged_by_id=logged_by.id, logged_dt=when)
    db.session.add(row)
    db.session.commit()
    return row


def late(job, is_late: bool = True):
    """Record whether the job's technician checked in after the arrival deadline (policy 4.1)."""
    job.late = is_late
    db.session.commit()
    return job


def _template() -> ChecklistTemplate:
    template = db.session.scalar(db.select(ChecklistTemplate))
    if template is None:
        template = ChecklistTemplate(name="delivery", version=1, active=True)
        db.session.add(template)
        db.session.flush()
    return template


def inspection(kind: str, inspector: User, result: str, when: datetime, *, job=None, customer=None) -> Inspection:
    row = Inspection(kind=kind, job_id=job.id if job else None, customer_id=customer.id if customer else None,
                     order_reference="PO-1", template_id=_template().id, inspector_id=inspector.id,
                     status="submitted", result=result, started_dt=when, submitted_dt=when)
    db.session.add(row)
    db.session.commit()
    return row


def claim(inspection_row: Inspection, customer, opened_by: User, status: str, decided: datetime | None) -> Claim:
    row = Claim(claim_type="transport_damage", status=status, inspection_id=inspection_row.id,
                customer_id=customer.id, region_id=customer.region_id, product_model="PX-200",
                opened_by_id=opened_by.id, opened_dt=inspection_row.submitted_dt, decided_dt=decided,
                approved_amount=Decimal("800.00") if status == "approved" else None,
                description="Crushed carton, cracked housing.")
    db.session.add(row)
    db.session.commit()
    return row


def suggestion(author: User, status: str = "proposed", decided: datetime | None = None,
               decided_by: User | None = None) -> Suggestion:
    row = Suggestion(author_id=author.id, title="Stronger corner protectors", body="Cartons arrive crushed.",
                     status=status, created_dt=decided or IN_Q3, decided_dt=decided,
                     decided_by_id=decided_by.id if decided_by else None,
                     decision_note="Adopted for the PX line." if decided else None)
    db.session.add(row)
    db.session.commit()
    return row


def keys(candidates) -> set[str]:
    return {c.basis_key for c in candidates}
