"""Customers and the products they own."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow
from .users import Region


class Customer(db.Model):
    """A customer of the company, in one region."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    phone: Mapped[str] = mapped_column(String(40), index=True)
    address: Mapped[str] = mapped_column(Text)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    # The language the customer's service report is printed in.
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN")
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    region: Mapped[Region] = relationship()
    products: Mapped[list["Product"]] = relationship(back_populates="customer")

    def __repr__(self) -> str:
        return f"<Customer {self.name}>"


class Product(db.Model):
    """A product unit at a customer's site; it may not be one of ours (policy 3.9)."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    model: Mapped[str] = mapped_column(String(120), index=True)
    serial: Mapped[str | None] = mapped_column(String(120), index=True)
    made_by_us: Mapped[bool] = mapped_column(default=True)
    # Shown to the dispatcher but never blocks service (policy 3.4).
    coverage_end_date: Mapped[date | None]

    customer: Mapped[Customer] = relationship(back_populates="products")

    def __repr__(self) -> str:
        return f"<Product {self.model} {self.serial}>"
