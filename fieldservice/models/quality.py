"""Quality watch flags (policy 2.4) and quality improvement suggestions (policy 3.11, 5.2)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .claims import Claim
from .diagnosis import FaultCategory
from .types import UTCDateTime, utcnow
from .users import User


class QualityFlag(db.Model):
    """A fault category rising on one product model in one ISO week, until acknowledged."""

    __tablename__ = "quality_flags"
    __table_args__ = (
        UniqueConstraint("product_model", "fault_category_id", "iso_week", name="uq_quality_flags_key"),
        Index("ix_quality_flags_open", "acknowledged_dt", "raised_dt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_model: Mapped[str] = mapped_column(String(120))
    fault_category_id: Mapped[int] = mapped_column(ForeignKey("fault_categories.id"))
    iso_week: Mapped[str] = mapped_column(String(8))  # e.g. 2026-W48
    fault_count: Mapped[int]
    model_total: Mapped[int]  # all submitted diagnoses of that model that week (for the share)
    raised_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)

    fault_category: Mapped[FaultCategory] = relationship()
    acknowledged_by: Mapped[User | None] = relationship()

    @property
    def share(self) -> float:
        return self.fault_count / self.model_total if self.model_total else 0.0


# Suggestion states.
PROPOSED = "proposed"
ADOPTED = "adopted"
NOT_ADOPTED = "not_adopted"
SUGGESTION_STATUSES = (PROPOSED, ADOPTED, NOT_ADOPTED)


class Suggestion(db.Model):
    """A quality improvement suggestion (policy 3.11); adoption can earn a reward (policy 5.2)."""

    __tablename__ = "suggestions"
    __table_args__ = (Index("ix_suggestions_status_created", "status", "created_dt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # Optional links to what prompted it.
    product_model: Mapped[str] = mapped_column(String(120), default="")
    fault_category_id: Mapped[int | None] = mapped_column(ForeignKey("fault_categories.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    status: Mapped[str] = mapped_column(String(16), default=PROPOSED)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    fault_category: Mapped[FaultCategory | None] = relationship()
    claim: Mapped[Claim | None] = relationship()

    @property
    def reference(self) -> str:
        return f"S{self.id:06d}"
