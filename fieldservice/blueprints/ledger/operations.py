"""The service ledger's query (policy 3.10), shared by the page and the CSV export.

Only current records are ledger rows: a diagnosis with status "submitted". Drafts are not
records yet, and a version that a correction replaced is "superseded" (kept, not listed).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Iterator, Mapping
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from ...extensions import db
from ...models import Diagnosis, FaultCategory, Job, Product
from ...models.diagnosis import OUTCOMES, SUBMITTED
from ...pagination import paginate

MODEL_MAX_LENGTH = 120


@dataclass(frozen=True)
class LedgerFilters:
    """What the reader narrowed the ledger to; every field is optional."""

    date_from: date | None = None  # local calendar days, inclusive
    date_to: date | None = None
    technician_id: int | None = None
    region_id: int | None = None
    fault_category_id: int | None = None  # a group (all its faults) or one fault
    outcome: str | None = None
    model: str = ""  # product model contains
    model_exact: str = ""  # exactly this product model (the fault statistics' bars link with it)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "LedgerFilters":
        """Filters from a query string; anything malformed is ignored rather than refused."""

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(args.get(name, "").strip())
            except ValueError:
                return None

        def number(name: str) -> int | None:
            value = args.get(name, "").strip()
            return int(value) if value.isdigit() and len(value) < 10 else None

        outcome = args.get("outcome") or None
        return cls(
            date_from=day("from"),
            date_to=day("to"),
            technician_id=number("technician"),
            region_id=number("region"),
            fault_category_id=number("fault"),
            outcome=outcome if outcome in OUTCOMES else None,
            model=args.get("model", "").strip()[:MODEL_MAX_LENGTH],
            model_exact=args.get("model_exact", "").strip()[:MODEL_MAX_LENGTH],
        )

    def as_args(self) -> dict[str, str]:
        """The query-string form (for links: the pager, the CSV export)."""
        names = {"date_from": "from", "date_to": "to", "technician_id": "technician",
                 "region_id": "region", "fault_category_id": "fault"}
        args: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value not in (None, ""):
                args[names.get(f.name, f.name)] = value.isoformat() if isinstance(value, date) else str(value)
        return args

    @property
    def active(self) -> bool:
        return bool(self.as_args())


def _local_midnight_utc(day: date) -> datetime:
    """The start of a calendar day in the service centre's time zone."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(current_app.config["TIMEZONE"]))


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fault_category_ids(category_id: int) -> list[int]:
    """The faults a fault filter stands for: a group is itself and every fault under it."""
    return list(db.session.scalars(
        select(FaultCategory.id).where(or_(FaultCategory.id == category_id,
                                           FaultCategory.parent_id == category_id))
    ))


def ledger_query(filters: LedgerFilters) -> Select:
    """The ledger rows matching `filters`, newest first, with everything a row shows loaded.

    Many-to-one relations come in the same query (joins) or, for the small tables (technicians,
    regions, fault categories), in one more query each (selectin), as do the parts of a page or
    of a CSV chunk: there is no query per row. Joins in the statement cost PostgreSQL planning
    time on every page (8 tables: ~12 ms of planning for a 1 ms query, issue 7).

    Filters on the diagnosis are its own columns (a fault group becomes the list of its faults,
    ix_diagnoses_ledger holds fault_category_id); only a filter on the job or its product joins
    them, so the capped count of an unfiltered or period-only ledger reads one index alone.
    """
    stmt = (
        select(Diagnosis)
        .where(Diagnosis.status == SUBMITTED)
        .options(
            # The filters below join jobs and products themselves; these eager loads use aliases.
            joinedload(Diagnosis.job, innerjoin=True).options(
                joinedload(Job.product), joinedload(Job.customer), selectinload(Job.region)),
            selectinload(Diagnosis.technician),
            selectinload(Diagnosis.fault_category).joinedload(FaultCategory.parent),
            selectinload(Diagnosis.parts),
        )
        .order_by(Diagnosis.submitted_dt.desc(), Diagnosis.id.desc())
    )
    if filters.date_from:
        stmt = stmt.where(Diagnosis.submitted_dt >= _local_midnight_utc(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(Diagnosis.submitted_dt < _local_midnight_utc(filters.date_to + timedelta(days=1)))
    if filters.technician_id:
        stmt = stmt.where(Diagnosis.technician_id == filters.technician_id)
    if filters.fault_category_id:
        stmt = stmt.where(Diagnosis.fault_category_id.in_(fault_category_ids(filters.fault_category_id)))
    if filters.outcome:
        stmt = stmt.where(Diagnosis.outcome == filters.outcome)
    if filters.region_id or filters.model or filters.model_exact:
        stmt = stmt.join(Job, Job.id == Diagnosis.job_id)
        if filters.region_id:
            stmt = stmt.where(Job.region_id == filters.region_id)
    if filters.model or filters.model_exact:
        stmt = stmt.join(Product, Product.id == Job.product_id)
        if filters.model:
            stmt = stmt.where(Product.model.ilike(_like_pattern(filters.model), escape="\\"))
        if filters.model_exact:
            stmt = stmt.where(Product.model == filters.model_exact)
    return stmt


def ledger_page(filters: LedgerFilters, page: int, per_page: int):
    """One page of the ledger (for the screen).

    With a period, the capped count reads the rows newest first, as the page does: a period's
    rows lie together at one end of the job ids, and counted in any order PostgreSQL, assuming
    them spread evenly, merge-joins diagnoses to jobs along job ids from the first (0.3-0.7 s
    for the last 90 days of one region on a million jobs, issue 7). Without a period that
    assumption holds, and with a product model its few products lead to their jobs and records
    faster than reading the ledger until a thousand of that model turn up: any order is best.
    """
    period = filters.date_from or filters.date_to
    by_model = filters.model or filters.model_exact
    return paginate(ledger_query(filters), page, per_page, count_in_order=bool(period and not by_model))


def stream_ledger_rows(filters: LedgerFilters, chunk_size: int = 500) -> Iterator[Diagnosis]:
    """Every matching ledger row, fetched in chunks (for the export: no page limit, flat memory).

    The rows come through a session of their own, opened when the first row is wanted and
    closed after the last: a streamed response is still being sent after the request (and
    its app context and session) has ended.
    """
    stmt = ledger_query(filters).execution_options(yield_per=chunk_size)
    engine = db.engine

    def rows() -> Iterator[Diagnosis]:
        with Session(engine) as session:
            yield from session.scalars(stmt)

    return rows()


def fault_category_label(category: FaultCategory | None, language: str) -> str:
    """"Group › Fault" in the reader's language (a group chosen as such shows alone)."""
    if category is None:
        return ""
    if category.parent is None:
        return category.name(language)
    return f"{category.parent.name(language)} › {category.name(language)}"
