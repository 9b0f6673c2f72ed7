"""Performance records: penalty (policy 4) and reward (policy 5) candidates and decisions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .complaints import Complaint
from .jobs import Job
from .quality import Suggestion
from .types import UTCDateTime, utcnow
from .users import User

PENALTY = "penalty"
REWARD = "reward"
KINDS = (PENALTY, REWARD)

# The clause a record rests on, and its kind.
CLAUSES = {"4.1": PENALTY, "4.2": PENALTY, "4.3": PENALTY, "4.4": PENALTY, "5.1": REWARD, "5.2": REWARD}

CANDIDATE = "candidate"
CONFIRMED = "confirmed"  # final: never changed again
DISMISSED = "dismissed"
RECORD_STATUSES = (CANDIDATE, CONFIRMED, DISMISSED)

SEVERITIES = ("minor", "moderate", "serious")


class PerformanceRecord(db.Model):
    """A penalty or reward proposed by the system for one technician in one quarter.

    basis_key names what the proposal rests on (e.g. "4.1:complaint:17", "5.1:2026-Q4:user:5")
    and is unique, so proposing again never duplicates a record.
    """

    __tablename__ = "performance_records"
    __table_args__ = (
        Index("ix_performance_technician_quarter", "technician_id", "quarter"),
        Index("ix_performance_status_quarter", "status", "quarter"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    quarter: Mapped[str] = mapped_column(String(7))  # e.g. 2026-Q4
    kind: Mapped[str] = mapped_column(String(8))
    clause: Mapped[str] = mapped_column(String(4))
    basis_key: Mapped[str] = mapped_column(String(80), unique=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id"))
    summary: Mapped[str] = mapped_column(Text, default="")
    proposed_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    status: Mapped[str] = mapped_column(String(12), default=CANDIDATE)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}
    severity: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)

    technician: Mapped[User] = relationship(foreign_keys=[technician_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    complaint: Mapped[Complaint | None] = relationship()
    job: Mapped[Job | None] = relationship()
    suggestion: Mapped[Suggestion | None] = relationship()
