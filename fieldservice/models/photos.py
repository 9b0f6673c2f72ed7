"""Photos of defective parts and sites: the evidence (policy 3.7, 2.3).

The row exists only once its objects are stored, or, when the object store was unreachable,
once the checked original is kept on the server's disk (status "pending"; sent to the store by
``flask photos-retry`` or after a later upload, then "stored"). The original bytes are kept
unchanged; display and thumbnail copies are re-encoded without EXIF (no GPS of a customer's
home). Keys point into the private bucket; pages show photos through short-lived presigned URLs.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow
from .users import User

# A photo's objects are in the store ("stored"), or the store was down when it arrived and its
# original waits on the server's disk for `flask photos-retry` ("pending"; issue 7).
STORED, PENDING = "stored", "pending"
PHOTO_STATUSES = (STORED, PENDING)


class Photo(db.Model):
    __tablename__ = "photos"
    __table_args__ = (
        CheckConstraint("status IN ('stored', 'pending')", name="status"),
        # The retry queue, oldest first; partial, so it costs nothing while the store is up.
        Index("ix_photos_pending", "uploaded_dt", "id",
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
    )

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
    # The keys above are chosen on arrival even for a pending photo (they stay NOT NULL and the
    # sweep spares them); the retry stores under the same keys, so a second run overwrites
    # rather than duplicates. pending_name: the original's file in PENDING_PHOTOS_DIR, a random
    # name (never the user's), cleared once stored.
    status: Mapped[str] = mapped_column(String(10), default=STORED, server_default=STORED)
    pending_name: Mapped[str | None] = mapped_column(String(64), unique=True)

    uploaded_by: Mapped[User] = relationship()

    @property
    def pending(self) -> bool:
        """Kept on the server, not yet in the object store: no URL can be given for it."""
        return self.status == PENDING

    @property
    def keys(self) -> tuple[str, str, str]:
        return self.original_key, self.display_key, self.thumb_key
