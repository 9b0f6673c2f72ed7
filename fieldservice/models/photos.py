"""Photos of defective parts and sites: the evidence (policy 3.7, 2.3).

The row exists only once its objects are stored. The original bytes are kept unchanged;
display and thumbnail copies are re-encoded without EXIF (no GPS of a customer's home).
Keys point into the private bucket; pages show photos through short-lived presigned URLs.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow
from .users import User


class Photo(db.Model):
    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    diagnosis_id: Mapped[int | None] = mapped_column(ForeignKey("diagnoses.id"), index=True)
    part_id: Mapped[int | None] = mapped_column(ForeignKey("replaced_parts.id", ondelete="SET NULL"))
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"), index=True)
    inspection_check_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_checks.id"), index=True)
    caption: Mapped[str] = mapped_column(String(300), default="")

    original_key: Mapped[str] = mapped_column(String(255), unique=True)
    display_key: Mapped[str] = mapped_column(String(255))
    thumb_key: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    byte_size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int]
    height: Mapped[int]
    captured_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)  # from EXIF, when present
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The browser's key for this photo: a retried upload that had in fact arrived is not stored twice.
    client_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    uploaded_by: Mapped[User] = relationship()

    @property
    def keys(self) -> tuple[str, str, str]:
        return self.original_key, self.display_key, self.thumb_key
