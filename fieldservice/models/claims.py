"""Claims with photo evidence, appraised and settled by reviewers (policy 3.7)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .customers import Customer, Product
from .diagnosis import Diagnosis
from .inspections import Inspection
from .jobs import Job
from .photos import Photo
from .types import UTCDateTime, utcnow
from .users import Region, User

CLAIM_TYPES = ("warranty_repair", "replacement", "refund", "transport_damage", "other")

DRAFT = "draft"
SUBMITTED = "submitted"
UNDER_REVIEW = "under_review"
INFO_REQUESTED = "info_requested"
RESUBMITTED = "resubmitted"
APPROVED = "approved"
REJECTED = "rejected"
STATUSES = (DRAFT, SUBMITTED, UNDER_REVIEW, INFO_REQUESTED, RESUBMITTED, APPROVED, REJECTED)
WAITING_FOR_REVIEW = (SUBMITTED, RESUBMITTED, UNDER_REVIEW)

# Where the defective part is.
AT_CUSTOMER = "at_customer"
SENT_TO_CENTRE = "sent_to_centre"  # with a tracking number
RECEIVED_AT_CENTRE = "received_at_centre"
PART_WHEREABOUTS = (AT_CUSTOMER, SENT_TO_CENTRE, RECEIVED_AT_CENTRE)

# The reviewer's product appraisal (policy 3.7); it feeds the quality statistics.
APPRAISALS = ("manufacturing_defect", "misuse", "transport_damage", "normal_wear", "undetermined")


class Claim(db.Model):
    __tablename__ = "claims"
    __table_args__ = (
        Index("ix_claims_status_submitted", "status", "submitted_dt"),
        Index("ix_claims_region_status", "region_id", "status"),
        # Migration 0006: weekly_summary's claims decided in the week; performance_candidates (4.4).
        Index("ix_claims_decided", "decided_dt"),
        # Migration 0006: related_claims of an inspection; performance_candidates' join (4.4).
        Index("ix_claims_inspection", "inspection_id"),
        # Migration 0009: performance's 4.4 count, the claims that have an inspection (few) by
        # decision time.
        Index("ix_claims_inspected_decided", "decided_dt", postgresql_where=text("inspection_id IS NOT NULL"),
              sqlite_where=text("inspection_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_type: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(20), default=DRAFT)
    # Optimistic lock: two reviewers deciding at once cannot both win.
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    diagnosis_id: Mapped[int | None] = mapped_column(ForeignKey("diagnoses.id"))
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    product_model: Mapped[str] = mapped_column(String(120), default="")
    serial: Mapped[str] = mapped_column(String(120), default="")
    amount_claimed: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    description: Mapped[str] = mapped_column(Text, default="")
    part_whereabouts: Mapped[str] = mapped_column(String(24), default=AT_CUSTOMER)
    tracking_number: Mapped[str] = mapped_column(String(80), default="")

    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    opened_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    approved_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # Four eyes: above the threshold, a second reviewer confirms the first one's approval.
    first_approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    first_approved_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    first_approval_reason: Mapped[str] = mapped_column(Text, default="")
    second_approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appraisal: Mapped[str | None] = mapped_column(String(24))
    appraisal_notes: Mapped[str] = mapped_column(Text, default="")
    appraised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    job: Mapped[Job | None] = relationship()
    diagnosis: Mapped[Diagnosis | None] = relationship()
    inspection: Mapped[Inspection | None] = relationship()
    customer: Mapped[Customer] = relationship()
    region: Mapped[Region] = relationship()
    product: Mapped[Product | None] = relationship()
    opened_by: Mapped[User] = relationship(foreign_keys=[opened_by_id])
    first_approver: Mapped[User | None] = relationship(foreign_keys=[first_approver_id])
    second_approver: Mapped[User | None] = relationship(foreign_keys=[second_approver_id])
    evidence: Mapped[list["ClaimEvidence"]] = relationship(
        back_populates="claim", order_by="ClaimEvidence.id", cascade="all, delete-orphan"
    )
    messages: Mapped[list["ClaimMessage"]] = relationship(
        back_populates="claim", order_by="ClaimMessage.id", cascade="all, delete-orphan"
    )

    @property
    def reference(self) -> str:
        return f"C{self.id:06d}"


# Migration 0008: claims_query's review queue (the waiting claims, oldest first by
# coalesce(submitted_dt, opened_dt), id) reads its page in order from this partial expression
# index instead of sorting every waiting claim; review_queue_count counts from it.
_WAITING = text("status IN (%s)" % ", ".join(f"'{s}'" for s in WAITING_FOR_REVIEW))
Index("ix_claims_review_queue", func.coalesce(Claim.submitted_dt, Claim.opened_dt), Claim.id,
      postgresql_where=_WAITING, sqlite_where=_WAITING)


class ClaimEvidence(db.Model):
    """A photo given as evidence for a claim; once the claim is submitted it stays."""

    __tablename__ = "claim_evidence"
    __table_args__ = (UniqueConstraint("claim_id", "photo_id", name="uq_claim_evidence_claim_photo"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id"), index=True)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The claim's status when it was added (draft, or info_requested for late evidence).
    added_in_status: Mapped[str] = mapped_column(String(20))

    claim: Mapped[Claim] = relationship(back_populates="evidence")
    photo: Mapped[Photo] = relationship()
    added_by: Mapped[User] = relationship()


class ClaimMessage(db.Model):
    """The reviewer's questions and the claimant's answers."""

    __tablename__ = "claim_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(12))  # question | answer
    body: Mapped[str] = mapped_column(Text)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    claim: Mapped[Claim] = relationship(back_populates="messages")
    author: Mapped[User] = relationship()
