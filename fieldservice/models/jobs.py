"""Service requests and the jobs (work orders) they become; escalations (policy 3.1)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .customers import Customer, Product
from .types import UTCDateTime, utcnow
from .users import Region, User

# Request types a dispatcher logs from a call.
FAULT_REPAIR = "fault_repair"
COMPLAINT = "complaint"
CLAIM = "claim"
DELIVERY_INSPECTION = "delivery_inspection"
CENTRE_INSPECTION = "centre_inspection"
INQUIRY = "inquiry"
# Opened by a failed delivery inspection: the dispatcher arranges replacement, return or claim.
INSPECTION_FOLLOW_UP = "inspection_follow_up"
REQUEST_TYPES = (FAULT_REPAIR, COMPLAINT, CLAIM, DELIVERY_INSPECTION, CENTRE_INSPECTION, INQUIRY,
                 INSPECTION_FOLLOW_UP)

PRIORITIES = ("urgent", "high", "normal", "low")

# Job lifecycle: new -> assigned -> en_route -> on_site -> resolved -> closed,
# plus escalated and cancelled. The allowed moves live in services/lifecycle.py.
NEW = "new"
ASSIGNED = "assigned"
EN_ROUTE = "en_route"
ON_SITE = "on_site"
RESOLVED = "resolved"
CLOSED = "closed"
ESCALATED = "escalated"
CANCELLED = "cancelled"
STATUSES = (NEW, ASSIGNED, EN_ROUTE, ON_SITE, RESOLVED, CLOSED, ESCALATED, CANCELLED)
OPEN_STATUSES = (NEW, ASSIGNED, EN_ROUTE, ON_SITE, ESCALATED)


class Job(db.Model):
    """A logged service request and the work order that carries it to a technician."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_deadline", "status", "arrival_deadline_dt"),
        Index("ix_jobs_technician_status", "technician_id", "status"),
        Index("ix_jobs_region_status_deadline", "region_id", "status", "arrival_deadline_dt"),
        # Migration 0006 (issue 7): each index names the query it serves (bench/explain.py).
        # dispatch.recent_jobs (all jobs, newest first); weekly_summary's jobs opened.
        Index("ix_jobs_created", "created_dt", "id"),
        # dispatch.recent_jobs filtered by status.
        Index("ix_jobs_status_created", "status", "created_dt", "id"),
        # dispatch.board_jobs: a region's jobs due today (the deadline range, any status).
        Index("ix_jobs_region_deadline", "region_id", "arrival_deadline_dt"),
        # statistics.weekly_summary: arrival deadlines missed in the week (all regions).
        Index("ix_jobs_deadline", "arrival_deadline_dt"),
        # statistics.weekly_summary: jobs resolved in the week.
        Index("ix_jobs_resolved", "resolved_dt"),
        # statistics.weekly_summary: jobs closed in the week.
        Index("ix_jobs_status_closed", "status", "closed_dt"),
        # statistics.fault_counts / week_fault_counts and the ledger's count: ledger rows joined
        # to their job's region and product, read from this index alone (index-only scan).
        Index("ix_jobs_region_product", "id", "region_id", "product_id"),
        # Migration 0009: claims.waiting_for_claimant_count (a technician's badge) and performance's
        # 5.1 count read a technician's job ids from this index alone (index-only scan).
        Index("ix_jobs_technician_id_id", "technician_id", "id"),
        # Migration 0010 (replaces 0001's (product_id)): the ledger's count by product model goes
        # from the model's products to their job ids in this index alone.
        Index("ix_jobs_product_id", "product_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))  # ix_jobs_product_id
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    request_type: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=NEW)
    # Optimistic lock: every change of state bumps it; a write that read an older version
    # loses (two dispatchers assigning the same job: exactly one wins).
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    arrival_deadline_dt: Mapped[datetime] = mapped_column(UTCDateTime)

    technician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    en_route_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Checked in after the arrival deadline (policy 4.1).
    late: Mapped[bool] = mapped_column(default=False)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # Where an escalated job goes back to once the supervisor has decided.
    status_before_escalation: Mapped[str | None] = mapped_column(String(16))

    customer: Mapped[Customer] = relationship()
    product: Mapped[Product | None] = relationship()
    region: Mapped[Region] = relationship()
    technician: Mapped[User | None] = relationship(foreign_keys=[technician_id])
    assigned_by: Mapped[User | None] = relationship(foreign_keys=[assigned_by_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    escalations: Mapped[list["Escalation"]] = relationship(
        back_populates="job", order_by="Escalation.raised_dt"
    )

    @property
    def reference(self) -> str:
        """The number staff read out on the phone, e.g. J000042."""
        return f"J{self.id:06d}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.status}>"


class Escalation(db.Model):
    """A job escalated to superiors (policy 3.1) and, once decided, what was decided."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_open", "decided_dt", "raised_dt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    raised_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision: Mapped[str | None] = mapped_column(Text)

    job: Mapped[Job] = relationship(back_populates="escalations")
    raised_by: Mapped[User] = relationship(foreign_keys=[raised_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
