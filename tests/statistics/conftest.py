"""Data for the statistics tests, built by hand so every figure can be counted by hand.

ISO week 2026-W10 runs Monday 2 March to Sunday 8 March 2026. The tests run with TIMEZONE=UTC
unless a test sets another zone through `app_config`.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from fieldservice.extensions import db
from fieldservice.models import Diagnosis, FaultCategory, Job, Product, User
from fieldservice.models.diagnosis import FIXED, SUBMITTED

UTC = timezone.utc
WEEK = "2026-W10"
MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # first moment of W10 (UTC)
SUNDAY_LAST = datetime(2026, 3, 8, 23, 59, tzinfo=UTC)  # last minute of W10
NEXT_MONDAY = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)  # first moment of W11
PREV_SUNDAY_LAST = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)  # last minute of W09
LONG_AGO = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

_serial = count(1)


@pytest.fixture
def faults(app) -> dict[str, FaultCategory]:
    """Two fault groups with two faults each (the tests empty the seeded taxonomy)."""
    electrical = FaultCategory(code="electrical", name_en="Electrical", name_zh="电气", position=0)
    mechanical = FaultCategory(code="mechanical", name_en="Mechanical", name_zh="机械", position=1)
    power = FaultCategory(code="power_supply", name_en="Power supply", name_zh="电源", parent=electrical)
    wiring = FaultCategory(code="wiring", name_en="Wiring", name_zh="线路", parent=electrical)
    bearing = FaultCategory(code="bearing", name_en="Bearing", name_zh="轴承", parent=mechanical)
    belt = FaultCategory(code="belt", name_en="Belt", name_zh="皮带", parent=mechanical)
    db.session.add_all([electrical, mechanical, power, wiring, bearing, belt])
    db.session.commit()
    return {c.code: c for c in (electrical, mechanical, power, wiring, bearing, belt)}


class Builder:
    """Jobs and ledger rows written straight into the database with chosen times."""

    def __init__(self, make):
        self.make = make
        self.dispatcher = make.user("dispatcher")
        self.technicians: dict[str, User] = {}

    def technician(self, region: str) -> User:
        if region not in self.technicians:
            self.technicians[region] = self.make.user("technician", region=region)
        return self.technicians[region]

    def job(self, *, model: str | None = "PX-200", region: str = "north", status: str = "resolved",
            created_dt: datetime = LONG_AGO, deadline: datetime | None = None, checked_in_dt: datetime | None = None,
            resolved_dt: datetime | None = None, closed_dt: datetime | None = None,
            request_type: str = "fault_repair") -> Job:
        customer = self.make.customer(region=region)
        product = None
        if model is not None:
            product = Product(customer=customer, model=model, serial=f"SN-{next(_serial)}")
            db.session.add(product)
        job = Job(customer=customer, product=product, region=customer.region, request_type=request_type,
                  priority="normal", description="Stops after ten minutes.", status=status,
                  created_by_id=self.dispatcher.id, created_dt=created_dt,
                  arrival_deadline_dt=deadline or created_dt + timedelta(hours=48),
                  technician_id=self.technician(region).id, checked_in_dt=checked_in_dt,
                  resolved_dt=resolved_dt, closed_dt=closed_dt,
                  late=bool(checked_in_dt and deadline and checked_in_dt > deadline))
        db.session.add(job)
        db.session.commit()
        return job

    def record(self, when: datetime, fault: FaultCategory | None, *, model: str | None = "PX-200",
               region: str = "north", status: str = SUBMITTED, job: Job | None = None,
               version: int = 1, supersedes: Diagnosis | None = None) -> Diagnosis:
        """A diagnosis (by default a ledger row: submitted) of a job of its own."""
        job = job or self.job(model=model, region=region, created_dt=when - timedelta(hours=3))
        diagnosis = Diagnosis(job=job, version=version, status=status, technician_id=job.technician_id,
                              symptom="Stops", fault_category=fault, root_cause="Heat", actions_taken="Replaced",
                              outcome=FIXED, contact_name="Wang", submitted_dt=when if status != "draft" else None,
                              supersedes=supersedes)
        db.session.add(diagnosis)
        db.session.commit()
        return diagnosis


@pytest.fixture
def build(make) -> Builder:
    return Builder(make)
