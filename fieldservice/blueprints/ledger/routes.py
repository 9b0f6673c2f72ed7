"""Ledger routes: the service ledger page and its CSV export (policy 3.10)."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response, current_app, request
from flask_babel import get_locale, gettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...labels import OUTCOME_LABELS
from ...models import FaultCategory, Region, User
from ...models.users import DISPATCHER, REVIEWER, TECHNICIAN
from ...security import roles_required
from ...templating import render_page_or_fragment
from . import bp
from .labels import time_on_site
from .operations import LedgerFilters, fault_category_label, ledger_page, stream_ledger_rows

# A cell starting with one of these is a formula to a spreadsheet; a leading apostrophe keeps
# a customer's or technician's text from being run when the CSV is opened in Excel.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _filter_choices() -> dict:
    """The filter form's lists: technicians, regions, fault groups with their faults."""
    technicians = list(db.session.scalars(
        select(User).where(User.role == TECHNICIAN).order_by(User.display_name)
    ))
    regions = list(db.session.scalars(select(Region).order_by(Region.name)))
    groups = list(db.session.scalars(
        select(FaultCategory).where(FaultCategory.parent_id.is_(None))
        .options(selectinload(FaultCategory.children))
        .order_by(FaultCategory.position, FaultCategory.id)
    ))
    return {"technicians": technicians, "regions": regions, "fault_groups": groups}


@bp.get("/ledger")
@roles_required(DISPATCHER, REVIEWER)
def index():
    """Dispatcher, supervisor, reviewer (read-only): the service ledger, newest first, filtered."""
    filters = LedgerFilters.from_args(request.args)
    page_number = request.args.get("page", "")
    page = ledger_page(filters, page=int(page_number) if page_number.isdigit() else 1,
                       per_page=current_app.config["PAGE_SIZE"])
    return render_page_or_fragment(
        "ledger/ledger.html", "ledger/_results.html", "ledger-results",
        page=page, filters=filters, language=get_locale().language,
        fault_category_label=fault_category_label, time_on_site=time_on_site,
        **_filter_choices(),
    )


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_cell(v) for v in values])
    return buffer.getvalue()


@bp.get("/ledger.csv")
@roles_required(DISPATCHER, REVIEWER)
def export_csv():
    """Dispatcher, supervisor, reviewer: every ledger row matching the filters, as CSV for Excel.

    Streamed chunk by chunk, so a year of records costs no more memory than a page. Everything
    that needs the request (the reader's language, the time zone) is settled before streaming:
    the rows are written after the request context is gone.
    """
    filters = LedgerFilters.from_args(request.args)
    language = get_locale().language
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    yes, no = gettext("Yes"), gettext("No")
    outcomes = {key: str(label) for key, label in OUTCOME_LABELS.items()}
    header = [
        gettext("Date submitted"), gettext("Job"), gettext("Customer"), gettext("Region"),
        gettext("Product model"), gettext("Serial number"), gettext("Technician"),
        gettext("Fault category"), gettext("Outcome"), gettext("Parts replaced"),
        gettext("Time on site (minutes)"), gettext("Late arrival"), gettext("Version"),
    ]
    diagnoses = stream_ledger_rows(filters)

    def lines():
        # The byte order mark tells Excel the file is UTF-8, so Chinese text opens correctly.
        yield ("\ufeff" + _csv_line(header)).encode("utf-8")
        for d in diagnoses:
            job = d.job
            yield _csv_line([
                d.submitted_dt.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                job.reference,
                job.customer.name,
                job.region.name,
                job.product.model if job.product else "",
                (job.product.serial or "") if job.product else "",
                d.technician.display_name,
                fault_category_label(d.fault_category, language),
                outcomes.get(d.outcome or "", ""),
                len(d.parts),
                "" if d.time_on_site_seconds is None else d.time_on_site_seconds // 60,
                yes if job.late else no,
                d.version,
            ]).encode("utf-8")

    today = datetime.now(zone).strftime("%Y%m%d")
    return Response(
        lines(),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f"attachment; filename=service-ledger-{today}.csv",
        },
    )
