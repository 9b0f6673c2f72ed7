"""Complaints (policy 2.6, 3.5) and follow-up visits (call-backs, policy 2.1).

A complaint is answered and closed with what was done. When the same customer complains again
about the same issue inside the repeat window, it is escalated to the supervisor with the
earlier complaints linked (ComplaintLink). Resolving a job creates its follow-up call; the job
closes once the call has reached the customer.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .customers import Customer, Product
from .diagnosis import FaultCategory
from .jobs import Job
from .types import UTCDateTime, utcnow
from .users import Region, User

# What the customer complains about. inspection_negligence feeds policy 4.3.
LATE_ARRIVAL = "late_arrival"  # policy 4.1
POOR_COMMUNICATION = "poor_communication"  # policy 4.2
FAULT_NOT_FIXED = "fault_not_fixed"
BEHAVIOUR = "behaviour"
PRODUCT_QUALITY = "product_quality"
INSPECTION_NEGLIGENCE = "inspection_negligence"  # policy 4.3
OTHER = "other"
COMPLAINT_CATEGORIES = (LATE_ARRIVAL, POOR_COMMUNICATION, FAULT_NOT_FIXED, BEHAVIOUR,
                        PRODUCT_QUALITY, INSPECTION_NEGLIGENCE, OTHER)

# Complaint states: open -> closed; a repeat is open and escalated until a supervisor closes it.
OPEN = "open"
CLOSED = "closed"
COMPLAINT_STATUSES = (OPEN, CLOSED)


class Complaint(db.Model):
    """A customer's complaint, logged by the desk, answered and closed (policy 2.6, 3.5)."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_customer_logged", "customer_id", "logged_dt"),
        Index("ix_complaints_status_logged", "status", "logged_dt"),
        Index("ix_complaints_escalated_open", "escalated", "status"),
        Index("ix_complaints_technician_logged", "technician_id", "logged_dt"),
        # Migration 0006: weekly_summary's complaints of the week, performance_candidates' quarter;
        # with job_id since 0009: performance's 5.1 count joins them to jobs from the index alone.
        Index("ix_complaints_logged", "logged_dt", "job_id"),
        # Migration 0009: performance's 4.1-4.3 count, the quarter's complaints of a category with
        # everything the count reads (index-only scan).
        Index("ix_complaints_category_logged", "category", "logged_dt", "technician_id", "job_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    # The fault the complaint is about (from the job's diagnosis when known): with the product it
    # identifies "the same issue" for repeated complaints.
    fault_category_id: Mapped[int | None] = mapped_column(ForeignKey("fault_categories.id"))
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    logged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    logged_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A repeat of an earlier complaint (policy 2.6): escalated to the supervisor queue.
    escalated: Mapped[bool] = mapped_column(default=False)
    escalated_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Opened from a dissatisfied follow-up call.
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("follow_ups.id"))

    answer: Mapped[str | None] = mapped_column(Text)  # what was done, told to the customer
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship()
    region: Mapped[Region] = relationship()
    job: Mapped[Job | None] = relationship()
    technician: Mapped[User | None] = relationship(foreign_keys=[technician_id])
    product: Mapped[Product | None] = relationship()
    fault_category: Mapped[FaultCategory | None] = relationship()
    logged_by: Mapped[User] = relationship(foreign_keys=[logged_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    follow_up: Mapped["FollowUp | None"] = relationship(foreign_keys=[follow_up_id])
    earlier: Mapped[list["Complaint"]] = relationship(
        secondary="complaint_links",
        primaryjoin="Complaint.id == ComplaintLink.complaint_id",
        secondaryjoin="Complaint.id == ComplaintLink.earlier_id",
        order_by="Complaint.logged_dt",
        viewonly=True,
    )

    @property
    def reference(self) -> str:
        return f"T{self.id:06d}"  # 投诉 (tousu)

    def __repr__(self) -> str:
        return f"<Complaint {self.id} {self.category} {self.status}>"


class ComplaintLink(db.Model):
    """A repeated complaint points at each earlier complaint on the same issue (policy 2.6)."""

    __tablename__ = "complaint_links"

    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), primary_key=True)
    earlier_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), primary_key=True)


# Follow-up call outcomes.
REACHED = "reached"
NO_ANSWER = "no_answer"
FOLLOW_UP_OUTCOMES = (REACHED, NO_ANSWER)

PENDING = "pending"
DONE = "done"


class FollowUp(db.Model):
    """The call-back after a job is resolved (policy 2.1); the job closes when it is done."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        UniqueConstraint("job_id", name="uq_follow_ups_job"),
        Index("ix_follow_ups_status_due", "status", "due_dt"),
        # Migration 0006: follow_ups_query, calls made (status done), newest first.
        Index("ix_follow_ups_status_called", "status", "called_dt", "id"),
        # Migration 0006: follow_ups_query for one region (pending calls by due time).
        Index("ix_follow_ups_region_status_due", "region_id", "status", "due_dt"),
        CheckConstraint("satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5",
                        name="ck_follow_ups_satisfaction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    outcome: Mapped[str | None] = mapped_column(String(16))
    satisfaction: Mapped[int | None]
    comments: Mapped[str] = mapped_column(Text, default="")
    called_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    called_dt: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    job: Mapped[Job] = relationship()
    region: Mapped[Region] = relationship()
    called_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<FollowUp job={self.job_id} {self.status}>"
