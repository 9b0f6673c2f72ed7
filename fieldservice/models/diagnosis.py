"""On-site diagnosis (policy 3.3, 3.5, 3.6, 3.9, 3.10): what was found, done and advised.

A submitted diagnosis is final and is one row of the service ledger; a correction is a new
version that supersedes it (the old one is kept).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .jobs import Job
from .types import UTCDateTime, utcnow
from .users import User

DRAFT = "draft"
SUBMITTED = "submitted"
SUPERSEDED = "superseded"

# Outcomes of a visit.
FIXED = "fixed"
NEEDS_PARTS = "needs_parts"  # creates a follow-up visit job
ESCALATED = "escalated"  # escalates the job to a supervisor (policy 3.1)
OUT_OF_SCOPE = "out_of_scope"  # outside the service scope or not our product (policy 3.9)
OUTCOMES = (FIXED, NEEDS_PARTS, ESCALATED, OUT_OF_SCOPE)


class FaultCategory(db.Model):
    """A two-level fault taxonomy (policy 2.3): a group (Electrical) and its faults (Power supply)."""

    __tablename__ = "fault_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("fault_categories.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    parent: Mapped["FaultCategory | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["FaultCategory"]] = relationship(
        back_populates="parent", order_by="(FaultCategory.position, FaultCategory.id)"
    )

    def name(self, language: str) -> str:
        """The category's name in the reader's language."""
        return self.name_zh if language == "zh" else self.name_en

    def __repr__(self) -> str:
        return f"<FaultCategory {self.code}>"


class Diagnosis(db.Model):
    """One version of the technician's record of a visit; drafts autosave until submitted."""

    __tablename__ = "diagnoses"
    __table_args__ = (
        UniqueConstraint("job_id", "version", name="uq_diagnoses_job_version"),
        # Migration 0006 (replaces (status, submitted_dt)): the ledger's rows newest first
        # (ledger_query's ORDER BY submitted_dt, id), the statistics' period of ledger rows, and
        # their job ids, so counts and the join to jobs read this index alone. Migration 0010
        # adds fault_category_id: the ledger's capped count by fault (group) reads it alone too.
        Index("ix_diagnoses_ledger", "status", "submitted_dt", "id", "job_id", "fault_category_id"),
        Index("ix_diagnoses_technician_submitted", "technician_id", "submitted_dt"),
        Index("ix_diagnoses_category_submitted", "fault_category_id", "submitted_dt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    technician_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("diagnoses.id"))

    symptom: Mapped[str] = mapped_column(Text, default="")
    fault_category_id: Mapped[int | None] = mapped_column(ForeignKey("fault_categories.id"))
    root_cause: Mapped[str] = mapped_column(Text, default="")
    actions_taken: Mapped[str] = mapped_column(Text, default="")
    guidance: Mapped[str] = mapped_column(Text, default="")  # policy 3.6
    outcome: Mapped[str | None] = mapped_column(String(16))
    customer_explanation: Mapped[str] = mapped_column(Text, default="")  # policy 3.9
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    signature_key: Mapped[str | None] = mapped_column(String(255))

    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    draft_saved_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # From check-in to submit (the first version's), in seconds.
    time_on_site_seconds: Mapped[int | None]
    follow_up_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))

    job: Mapped[Job] = relationship(foreign_keys=[job_id])
    technician: Mapped[User] = relationship()
    fault_category: Mapped[FaultCategory | None] = relationship()
    supersedes: Mapped["Diagnosis | None"] = relationship(remote_side=[id])
    follow_up_job: Mapped[Job | None] = relationship(foreign_keys=[follow_up_job_id])
    parts: Mapped[list["ReplacedPart"]] = relationship(
        back_populates="diagnosis", order_by="ReplacedPart.position", cascade="all, delete-orphan"
    )

    @property
    def is_draft(self) -> bool:
        return self.status == DRAFT


class ReplacedPart(db.Model):
    """A part replaced during the visit; the faulty one may be kept as evidence (policy 3.7)."""

    __tablename__ = "replaced_parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    diagnosis_id: Mapped[int] = mapped_column(ForeignKey("diagnoses.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    part_number: Mapped[str] = mapped_column(String(80), default="")
    description: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[int] = mapped_column(default=1)
    faulty_serial: Mapped[str] = mapped_column(String(120), default="")
    replacement_serial: Mapped[str] = mapped_column(String(120), default="")
    kept_as_evidence: Mapped[bool] = mapped_column(default=False)

    diagnosis: Mapped[Diagnosis] = relationship(back_populates="parts")
