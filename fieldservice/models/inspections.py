"""Delivery inspections (policy 4.3, 4.4): model, quantity, markings/labels, packaging appearance.

Checklist templates are versioned: editing a template makes a new version, and an
inspection keeps the version it was done with (its checks also copy the item wording), so a
template change never alters an inspection already done.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .customers import Customer
from .jobs import Job
from .types import UTCDateTime, utcnow
from .users import User

# Where the goods are inspected.
SITE_DELIVERY = "site_delivery"  # at the customer's site, from a delivery-inspection job (4.3)
CENTRE_RECEIPT = "centre_receipt"  # on arrival at the after-sales service centre (4.4)
KINDS = (SITE_DELIVERY, CENTRE_RECEIPT)

# What a checklist item is answered with.
CHECK = "check"  # pass / fail / not applicable
QUANTITY = "quantity"  # expected vs counted; fails by itself on a mismatch
ITEM_KINDS = (CHECK, QUANTITY)

# Where an item applies.
PER_LINE = "line"  # once per shipment line (product model)
PER_SHIPMENT = "shipment"  # once for the whole consignment
SCOPES = (PER_LINE, PER_SHIPMENT)

PASS = "pass"
FAIL = "fail"
NOT_APPLICABLE = "na"
ANSWERS = (PASS, FAIL, NOT_APPLICABLE)

DRAFT = "draft"
SUBMITTED = "submitted"

PASSED = "passed"
FAILED = "failed"


class ChecklistTemplate(db.Model):
    """One version of a checklist; versions are never edited once an inspection uses them."""

    __tablename__ = "checklist_templates"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_checklist_templates_name_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)  # the version new inspections use
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    items: Mapped[list["ChecklistItem"]] = relationship(
        back_populates="template", order_by="(ChecklistItem.scope, ChecklistItem.position)",
        cascade="all, delete-orphan",
    )


class ChecklistItem(db.Model):
    __tablename__ = "checklist_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_templates.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    code: Mapped[str] = mapped_column(String(40))
    label_en: Mapped[str] = mapped_column(String(200))
    label_zh: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default=CHECK)
    scope: Mapped[str] = mapped_column(String(16), default=PER_LINE)

    template: Mapped[ChecklistTemplate] = relationship(back_populates="items")

    def label(self, language: str) -> str:
        return self.label_zh if language == "zh" else self.label_en


class Inspection(db.Model):
    """A delivery inspection: at the customer's site (from a job) or on receipt at the centre."""

    __tablename__ = "inspections"
    __table_args__ = (
        Index("ix_inspections_status_submitted", "status", "submitted_dt"),
        Index("ix_inspections_reference", "order_reference"),
        Index("ix_inspections_result_submitted", "result", "submitted_dt"),
        # inspection_opening: every job page asks which inspection opened the job (0006).
        Index("ix_inspections_follow_up_job", "follow_up_job_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    order_reference: Mapped[str] = mapped_column(String(80))
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_templates.id"))
    inspector_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    result: Mapped[str | None] = mapped_column(String(16))
    started_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    draft_saved_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str] = mapped_column(Text, default="")
    # A failed inspection opens a follow-up service request for the dispatcher.
    follow_up_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    # A correction is a new inspection that points at the one it corrects.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))

    job: Mapped[Job | None] = relationship(foreign_keys=[job_id])
    follow_up_job: Mapped[Job | None] = relationship(foreign_keys=[follow_up_job_id])
    customer: Mapped[Customer | None] = relationship()
    template: Mapped[ChecklistTemplate] = relationship()
    inspector: Mapped[User] = relationship()
    corrects: Mapped["Inspection | None"] = relationship(remote_side=[id])
    lines: Mapped[list["InspectionLine"]] = relationship(
        back_populates="inspection", order_by="InspectionLine.position", cascade="all, delete-orphan"
    )
    checks: Mapped[list["InspectionCheck"]] = relationship(
        back_populates="inspection", order_by="InspectionCheck.position", cascade="all, delete-orphan"
    )

    @property
    def reference(self) -> str:
        return f"I{self.id:06d}"


# Migration 0006: inspections_query lists newest first by coalesce(submitted_dt, started_dt)
# (drafts by their start); an expression index lets the page read 25 rows instead of sorting all.
Index("ix_inspections_recent", func.coalesce(Inspection.submitted_dt, Inspection.started_dt).desc(),
      Inspection.id.desc())


class InspectionLine(db.Model):
    """A line of the shipment: a product model and how many were ordered."""

    __tablename__ = "inspection_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    product_model: Mapped[str] = mapped_column(String(120))
    expected_quantity: Mapped[int] = mapped_column(default=1)

    inspection: Mapped[Inspection] = relationship(back_populates="lines")


class InspectionCheck(db.Model):
    """One checklist item as answered, for one line (or the whole shipment when line is None)."""

    __tablename__ = "inspection_checks"
    __table_args__ = (Index("ix_inspection_checks_code_answer", "item_code", "answer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_lines.id"))
    position: Mapped[int] = mapped_column(default=0)
    # A copy of the template item as it was: the inspection keeps its wording for good.
    item_code: Mapped[str] = mapped_column(String(40))
    label_en: Mapped[str] = mapped_column(String(200))
    label_zh: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default=CHECK)
    answer: Mapped[str | None] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text, default="")
    expected_quantity: Mapped[int | None]
    counted_quantity: Mapped[int | None]

    inspection: Mapped[Inspection] = relationship(back_populates="checks")
    line: Mapped[InspectionLine | None] = relationship()

    def label(self, language: str) -> str:
        return self.label_zh if language == "zh" else self.label_en
