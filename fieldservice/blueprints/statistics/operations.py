"""Rules of fault statistics (policy 2.3), the quality watch (policy 2.4) and the weekly
summary (policy 3.10). Plain functions: they read and flush, the caller commits.

Every count of faults is a count of ledger rows: current submitted diagnoses (status
"submitted"; a version a correction replaced is "superseded" and not counted), placed in time
by their submission (`submitted_dt`, as the ledger's date filter does) and in the centre's time
zone (config TIMEZONE). Each chart row carries the LedgerFilters that list exactly its rows, so
a bar's link and its count cannot disagree.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Callable, Iterable

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, delete, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ...extensions import db
from ...models import Claim, Diagnosis, FaultCategory, Job, Product, Region, User, utcnow
from ...models.claims import APPROVED, REJECTED
from ...models.complaints import COMPLAINT_CATEGORIES, REACHED, Complaint, FollowUp
from ...models.diagnosis import SUBMITTED
from ...models.jobs import CANCELLED, CLOSED
from ...models.quality import ADOPTED, QualityFlag, Suggestion
from ...models.users import SUPERVISOR
from ...services.audit import record_event
from ...services.periods import Period, iso_week, shift_week, week_name
from ..ledger.operations import LedgerFilters
from ..ledger.operations import fault_category_label as category_label  # 'Group › Fault', as the ledger shows it

DIMENSIONS = ("group", "leaf", "model", "region", "week")
TOP_N = 5


class QualityRefused(Exception):
    """A quality-flag change the rules do not allow; the message is shown to the user."""


# --- fault statistics (policy 2.3) --------------------------------------------------------


def _ledger_rows(stmt, period_start: datetime, period_end: datetime, region_id: int | None):
    """Restrict `stmt` (which selects from Diagnosis joined to Job) to the period's ledger rows."""
    stmt = stmt.where(Diagnosis.status == SUBMITTED, Diagnosis.submitted_dt >= period_start,
                      Diagnosis.submitted_dt < period_end)
    if region_id is not None:
        stmt = stmt.where(Job.region_id == region_id)
    return stmt


def weeks_between(period_start: datetime, period_end: datetime) -> list[Period]:
    """The ISO weeks (centre's zone) that the period [start, end) touches, oldest first."""
    weeks: list[Period] = []
    name = week_name(period_start)
    while True:
        week = iso_week(name)
        if week.start_dt >= period_end:
            return weeks
        weeks.append(week)
        name = shift_week(name, 1)


def fault_counts(period_start: datetime, period_end: datetime, region_id: int | None = None,
                 by: str = "leaf") -> list[tuple[object, int]]:
    """Counts of ledger rows submitted in [period_start, period_end), optionally in one region.

    by="group": key is the fault group's id (a fault counts for its group);
    by="leaf": the fault's id (rows categorised with a group alone are not in this count);
    by="model": the product model's name (rows of jobs without a product are not counted);
    by="region": the job's region id;
    by="week": the ISO week name; every week of the period is listed, oldest first, also
    when it has no rows. The other dimensions list the largest count first (ties by key).
    """
    if by not in DIMENSIONS:
        raise ValueError(by)
    stmt = select(Diagnosis.id).select_from(Diagnosis).join(Job, Diagnosis.job_id == Job.id)
    if by == "group":
        key = func.coalesce(FaultCategory.parent_id, FaultCategory.id)
        stmt = stmt.join(FaultCategory, Diagnosis.fault_category_id == FaultCategory.id)
    elif by == "leaf":
        key = Diagnosis.fault_category_id
        stmt = stmt.join(FaultCategory, Diagnosis.fault_category_id == FaultCategory.id) \
            .where(FaultCategory.parent_id.is_not(None))
    elif by == "model":
        key = Product.model
        stmt = stmt.join(Product, Job.product_id == Product.id)
    elif by == "region":
        key = Job.region_id
    else:
        weeks = weeks_between(period_start, period_end)
        if not weeks:
            return []
        key = _week_of_row(weeks)
    # Grouped outside a subquery: an expression with bound parameters (the week bounds) is not
    # "the same expression" in GROUP BY to PostgreSQL.
    rows = _ledger_rows(stmt.add_columns(key.label("k")), period_start, period_end, region_id).subquery()
    stmt = select(rows.c.k, func.count()).group_by(rows.c.k)
    counts = {k: n for k, n in db.session.execute(stmt)}
    if by == "week":
        return [(w.name, counts.get(w.name, 0)) for w in weeks]
    return _by_count(counts)


def _week_of_row(weeks: list[Period]):
    """The week a ledger row falls in, decided in SQL by the weeks' UTC bounds (portable, one
    query); `weeks` are weeks_between the period's bounds, so every row falls in one of them."""
    if len(weeks) == 1:
        return literal(weeks[0].name)
    return case(*[(Diagnosis.submitted_dt < w.end_dt, literal(w.name)) for w in weeks[:-1]],
                else_=literal(weeks[-1].name))


def _by_count(counts: dict) -> list[tuple[object, int]]:
    """Largest count first, ties by key (fault_counts' order)."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def fault_counts_by_every_dimension(period_start: datetime, period_end: datetime, region_id: int | None = None
                                    ) -> tuple[dict[str, list[tuple[object, int]]], int]:
    """fault_counts for each of DIMENSIONS and ledger_row_count, exactly as those give them, from
    two statements instead of six (issue 7: six scans of the same rows were most of the statistics
    page's time). Returns ({dimension: counts}, total).

    One counts the rows per (fault, its parent, week): that needs the ledger rows alone (and their
    jobs only to keep one region); the other per (product model, region), through jobs and
    products. (One statement for all five at once was slower: its groups are nearly as many as
    the rows.) Totals per dimension are added up here.
    """
    weeks = weeks_between(period_start, period_end)
    if not weeks:
        return {by: [] for by in DIMENSIONS}, 0
    counts: dict[str, dict] = {by: defaultdict(int) for by in DIMENSIONS}
    total = 0

    by_fault = (select(Diagnosis.fault_category_id.label("fault"), FaultCategory.parent_id.label("parent"),
                       _week_of_row(weeks).label("week"))
                .select_from(Diagnosis).outerjoin(FaultCategory, Diagnosis.fault_category_id == FaultCategory.id))
    if region_id is not None:
        by_fault = by_fault.join(Job, Diagnosis.job_id == Job.id)
    # Grouped outside a subquery, as in fault_counts (the week bounds are bound parameters).
    rows = _ledger_rows(by_fault, period_start, period_end, region_id).subquery()
    keys = (rows.c.fault, rows.c.parent, rows.c.week)
    for fault, parent, week, n in db.session.execute(select(*keys, func.count()).group_by(*keys)):
        total += n
        counts["week"][week] += n
        if fault is not None:  # a fault counts for its group; a group chosen alone is its own
            counts["group"][parent if parent is not None else fault] += n
            if parent is not None:
                counts["leaf"][fault] += n

    by_place = (select(Product.model, Job.region_id).select_from(Diagnosis).join(Job, Diagnosis.job_id == Job.id)
                .outerjoin(Product, Job.product_id == Product.id))
    by_place = _ledger_rows(by_place, period_start, period_end, region_id).group_by(Product.model, Job.region_id)
    for model, region, n in db.session.execute(by_place.add_columns(func.count())):
        if model is not None:  # Product.model is never NULL: None is a job without a product
            counts["model"][model] += n
        counts["region"][region] += n

    result = {by: _by_count(counts[by]) for by in ("group", "leaf", "model", "region")}
    result["week"] = [(w.name, counts["week"].get(w.name, 0)) for w in weeks]
    return result, total


def ledger_row_count(period_start: datetime, period_end: datetime, region_id: int | None = None) -> int:
    """All ledger rows submitted in the period (with or without a fault category or product)."""
    stmt = select(func.count(Diagnosis.id)).select_from(Diagnosis).join(Job, Diagnosis.job_id == Job.id)
    return db.session.scalar(_ledger_rows(stmt, period_start, period_end, region_id)) or 0


@dataclass(frozen=True)
class StatRow:
    """One bar: its label, its count and the ledger filters that list exactly its rows."""

    key: object
    label: str
    count: int
    filters: LedgerFilters | None = None


@dataclass
class FaultStatistics:
    first_week: Period
    last_week: Period
    region: Region | None
    total: int
    total_filters: LedgerFilters
    by_group: list[StatRow]
    by_leaf: list[StatRow]
    by_model: list[StatRow]
    by_region: list[StatRow]
    by_week: list[StatRow]
    appraisals: list["AppraisalRow"]

    @property
    def period_start(self) -> datetime:
        return self.first_week.start_dt

    @property
    def period_end(self) -> datetime:
        return self.last_week.end_dt


def _categories(ids: Iterable[int]) -> dict[int, FaultCategory]:
    ids = set(ids)
    if not ids:
        return {}
    rows = db.session.scalars(select(FaultCategory).options(joinedload(FaultCategory.parent))
                              .where(FaultCategory.id.in_(ids)))
    return {c.id: c for c in rows}


def fault_statistics(first_week: str, last_week: str, region_id: int | None, language: str) -> FaultStatistics:
    """Everything the fault statistics page charts, for the weeks first..last (inclusive)."""
    first, last = iso_week(first_week), iso_week(last_week)
    start, end = first.start_dt, last.end_dt

    def filters(**kw) -> LedgerFilters:
        return LedgerFilters(date_from=kw.pop("date_from", first.first_day),
                             date_to=kw.pop("date_to", last.last_day), region_id=region_id, **kw)

    counts, total = fault_counts_by_every_dimension(start, end, region_id)
    groups, leaves, models, regions, weeks = (counts[by] for by in DIMENSIONS)
    categories = _categories([k for k, _ in groups] + [k for k, _ in leaves])
    region_rows = db.session.scalars(select(Region).where(Region.id.in_([k for k, _ in regions] + [region_id or 0])))
    region_names = {r.id: r for r in region_rows}
    return FaultStatistics(
        first_week=first, last_week=last, region=region_names.get(region_id) if region_id else None,
        total=total, total_filters=filters(),
        by_group=[StatRow(k, category_label(categories.get(k), language), n, filters(fault_category_id=k))
                  for k, n in groups],
        by_leaf=[StatRow(k, category_label(categories.get(k), language), n, filters(fault_category_id=k))
                 for k, n in leaves],
        by_model=[StatRow(k, k, n, filters(model_exact=k)) for k, n in models],
        by_region=[StatRow(k, region_names[k].name if k in region_names else str(k), n,
                           LedgerFilters(date_from=first.first_day, date_to=last.last_day, region_id=k))
                   for k, n in regions],
        by_week=[StatRow(name, name, n, filters(date_from=iso_week(name).first_day, date_to=iso_week(name).last_day))
                 for name, n in weeks],
        appraisals=appraisal_counts(start, end, region_id),
    )


@dataclass(frozen=True)
class AppraisalRow:
    """The product appraisals of one model's claims (policy 3.7: they feed the quality statistics)."""

    product_model: str
    counts: dict[str, int]
    total: int


def appraisal_counts(period_start: datetime, period_end: datetime, region_id: int | None = None) -> list[AppraisalRow]:
    """Appraised claims submitted in [start, end), per product model and appraisal outcome.

    A claim is placed in time by its submission (an appraisal carries no date of its own);
    claims without a product model count under "" (shown as "model not given").
    Models with the most appraised claims first.
    """
    stmt = (select(Claim.product_model, Claim.appraisal, func.count(Claim.id))
            .where(Claim.appraisal.is_not(None), Claim.submitted_dt >= period_start,
                   Claim.submitted_dt < period_end)
            .group_by(Claim.product_model, Claim.appraisal))
    if region_id is not None:
        stmt = stmt.where(Claim.region_id == region_id)
    per_model: dict[str, dict[str, int]] = defaultdict(dict)
    for model, appraisal, n in db.session.execute(stmt):
        per_model[model or ""][appraisal] = n
    rows = [AppraisalRow(m, c, sum(c.values())) for m, c in per_model.items()]
    return sorted(rows, key=lambda r: (-r.total, r.product_model))


# --- quality watch (policy 2.4) -----------------------------------------------------------


def _thresholds() -> tuple[int, float, int]:
    cfg = current_app.config
    return cfg["QUALITY_FLAG_MIN_COUNT"], cfg["QUALITY_FLAG_MIN_SHARE"], cfg["QUALITY_FLAG_SHARE_MIN_COUNT"]


def qualifies(fault_count: int, model_total: int) -> bool:
    """A fault on one model in one week is flagged when it reaches QUALITY_FLAG_MIN_COUNT, or is
    at least QUALITY_FLAG_MIN_SHARE of the model's ledger rows that week with at least
    QUALITY_FLAG_SHARE_MIN_COUNT of them."""
    min_count, min_share, share_min_count = _thresholds()
    if fault_count >= min_count:
        return True
    return bool(model_total) and fault_count >= share_min_count and fault_count / model_total >= min_share


def week_fault_counts(week: Period) -> tuple[dict[tuple[str, int], int], dict[str, int]]:
    """For one week: ledger rows per (product model, fault) and all ledger rows per model."""
    in_week = and_(Diagnosis.status == SUBMITTED, Diagnosis.submitted_dt >= week.start_dt,
                   Diagnosis.submitted_dt < week.end_dt)
    totals = dict(db.session.execute(
        select(Product.model, func.count(Diagnosis.id)).select_from(Diagnosis)
        .join(Job, Diagnosis.job_id == Job.id).join(Product, Job.product_id == Product.id)
        .where(in_week).group_by(Product.model)
    ).all())
    faults = {(model, fault_id): n for model, fault_id, n in db.session.execute(
        select(Product.model, Diagnosis.fault_category_id, func.count(Diagnosis.id)).select_from(Diagnosis)
        .join(Job, Diagnosis.job_id == Job.id).join(Product, Job.product_id == Product.id)
        .join(FaultCategory, Diagnosis.fault_category_id == FaultCategory.id)
        .where(in_week, FaultCategory.parent_id.is_not(None))
        .group_by(Product.model, Diagnosis.fault_category_id)
    )}
    return faults, totals


def refresh_quality_flags(week: str, now: datetime | None = None) -> list[QualityFlag]:
    """Bring the quality flags of an ISO week in line with its ledger rows (policy 2.4).

    For each (product model, fault) of the week: a flag when `qualifies`. Running it again
    changes nothing (one flag per model, fault and week: the counts of an existing flag are
    updated; an acknowledged flag stays acknowledged). A flag not yet acknowledged whose
    counts no longer qualify (a record was corrected) is withdrawn. Returns the week's flags
    that qualify, largest count first.
    """
    now = now or utcnow()
    period = iso_week(week)
    faults, totals = week_fault_counts(period)
    existing = {(f.product_model, f.fault_category_id): f for f in db.session.scalars(
        select(QualityFlag).where(QualityFlag.iso_week == period.name))}
    flagged: list[QualityFlag] = []
    for (model, fault_id), n in faults.items():
        total = totals.get(model, n)
        if not qualifies(n, total):
            continue
        flag = existing.get((model, fault_id)) or _new_flag(model, fault_id, period.name, n, total, now)
        flag.fault_count, flag.model_total = n, total
        flagged.append(flag)
    for key, flag in existing.items():
        if flag not in flagged:
            if flag.acknowledged_dt is None:
                # Conditional: a supervisor acknowledging it at this moment keeps it.
                gone = db.session.execute(delete(QualityFlag).where(
                    QualityFlag.id == flag.id, QualityFlag.acknowledged_dt.is_(None)
                ).execution_options(synchronize_session="fetch")).rowcount
                if gone:
                    record_event("quality_flag", flag.id, "withdraw", None, "open", None,
                                 reason=f"{key[0]}: {faults.get(key, 0)}/{totals.get(key[0], 0)}", when=now)
                    continue
            # Acknowledged: kept as the record of what was seen, with today's counts.
            flag.fault_count = faults.get(key, 0)
            flag.model_total = totals.get(key[0], 0)
    db.session.flush()
    return sorted(flagged, key=lambda f: (-f.fault_count, f.product_model, f.fault_category_id))


def _new_flag(model: str, fault_id: int, week: str, n: int, total: int, now: datetime) -> QualityFlag:
    """A new flag; when another submission raised the same one at the same moment, that one."""
    flag = QualityFlag(product_model=model, fault_category_id=fault_id, iso_week=week, fault_count=n,
                       model_total=total, raised_dt=now)
    try:
        with db.session.begin_nested():
            db.session.add(flag)
            db.session.flush()
    except IntegrityError:
        flag = db.session.scalar(select(QualityFlag).where(
            QualityFlag.product_model == model, QualityFlag.fault_category_id == fault_id,
            QualityFlag.iso_week == week))
        return flag
    record_event("quality_flag", flag.id, "raise", None, None, "open", reason=f"{model}: {n}/{total}", when=now)
    return flag


def refresh_after_submission(diagnosis: Diagnosis, now: datetime | None = None) -> None:
    """After a diagnosis is submitted: refresh the flags of its week, and of the week of the
    version it supersedes when that was another week (the old row left that week's counts)."""
    weeks = {week_name(diagnosis.submitted_dt)}
    earlier = diagnosis.supersedes
    if earlier is not None and earlier.submitted_dt is not None:
        weeks.add(week_name(earlier.submitted_dt))
    for week in sorted(weeks):
        refresh_quality_flags(week, now=now)


def acknowledge_flag(flag: QualityFlag, actor: User, note: str, now: datetime | None = None) -> QualityFlag:
    """A supervisor acknowledges a flag, with a note of what was done (policy 2.4); audited."""
    if actor.role != SUPERVISOR:
        raise QualityRefused(_l("Only a supervisor acknowledges a quality flag."))
    note = (note or "").strip()
    if not note:
        raise QualityRefused(_l("Write down what was done about it."))
    now = now or utcnow()
    done = db.session.execute(
        update(QualityFlag).where(QualityFlag.id == flag.id, QualityFlag.acknowledged_dt.is_(None))
        .values(acknowledged_by_id=actor.id, acknowledged_dt=now, note=note)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not done:
        raise QualityRefused(_l("This flag was already acknowledged."))
    db.session.refresh(flag)
    record_event("quality_flag", flag.id, "acknowledge", actor, "open", "acknowledged", reason=note, when=now)
    db.session.flush()
    return flag


def open_quality_flags_count() -> int:
    """How many quality flags wait for a supervisor's acknowledgement (policy 2.4)."""
    return db.session.scalar(
        select(func.count()).select_from(QualityFlag).where(QualityFlag.acknowledged_dt.is_(None))
    ) or 0


def _flags_query():
    return select(QualityFlag).options(
        joinedload(QualityFlag.fault_category).joinedload(FaultCategory.parent),
        joinedload(QualityFlag.acknowledged_by),
    )


def open_quality_flags(limit: int | None = None) -> list[QualityFlag]:
    """Flags waiting for acknowledgement, newest week first, largest count first (the first
    `limit` of them when given)."""
    return list(db.session.scalars(_flags_query().where(QualityFlag.acknowledged_dt.is_(None))
                                   .order_by(QualityFlag.iso_week.desc(), QualityFlag.fault_count.desc(),
                                             QualityFlag.id).limit(limit)))


def acknowledged_quality_flags(limit: int = 50) -> list[QualityFlag]:
    """The most recently acknowledged flags."""
    return list(db.session.scalars(_flags_query().where(QualityFlag.acknowledged_dt.is_not(None))
                                   .order_by(QualityFlag.acknowledged_dt.desc(), QualityFlag.id.desc())
                                   .limit(limit)))


def flag_ledger_filters(flag: QualityFlag) -> LedgerFilters:
    """The ledger rows behind a flag: that model, that fault, that week (all regions)."""
    week = iso_week(flag.iso_week)
    return LedgerFilters(date_from=week.first_day, date_to=week.last_day,
                         fault_category_id=flag.fault_category_id, model_exact=flag.product_model)


# --- weekly summary (policy 3.10) ---------------------------------------------------------


@dataclass(frozen=True)
class ClaimOutcome:
    outcome: str  # approved | rejected
    currency: str
    count: int
    amount_claimed: Decimal
    amount_approved: Decimal


@dataclass
class WeeklySummary:
    """What the centre reports upward for one ISO week (policy 3.10). See weekly_summary."""

    week: Period
    jobs_opened: int
    jobs_resolved: int
    jobs_closed: int
    ledger_rows: int
    deadlines_missed: int
    complaints: dict[str, int]  # every category, zero included
    complaints_repeated: int
    claims: list[ClaimOutcome]
    top_faults: list[tuple[FaultCategory, int]]
    top_models: list[tuple[str, int]]
    follow_ups_reached: int
    satisfaction_average: Decimal | None
    satisfaction: dict[int, int]  # 1..5, zero included
    suggestions_submitted: int
    suggestions_adopted: int
    as_of: datetime = field(default_factory=utcnow)

    @property
    def complaints_total(self) -> int:
        return sum(self.complaints.values())

    @property
    def claims_decided(self) -> int:
        return sum(c.count for c in self.claims)


def _count(entity, *where):
    """SELECT count(*) of `entity`'s rows matching `where` (count(*), not of a column: an index
    on the filtered column alone then answers it without reading the table)."""
    return select(func.count()).select_from(entity).where(*where)


def _counts(*counts) -> list[int]:
    """Several _count statements run as one, each a scalar subquery with its own plan and index."""
    return [n or 0 for n in db.session.execute(select(*(c.scalar_subquery() for c in counts))).one()]


def _within(column, week: Period):
    return and_(column >= week.start_dt, column < week.end_dt)


def weekly_summary(week: str, now: datetime | None = None) -> WeeklySummary:
    """The weekly summary of the ISO week `week` (e.g. '2026-W48', centre's time zone).

    - jobs opened: logged (created_dt) in the week; resolved: resolved_dt in the week (whatever
      their status now); closed: status closed and closed_dt in the week (cancelled jobs also
      get a closed_dt and are not counted).
    - service records: ledger rows submitted in the week (what the ledger lists for the week).
    - arrival deadlines missed: jobs whose arrival deadline falls in the week and has passed
      (before `now`), and that were checked in after it, or not checked in by it — except jobs
      cancelled at or before the deadline. A deadline still ahead is not (yet) missed.
    - complaints: logged in the week, per category; repeats are those escalated as repeated
      complaints (policy 2.6).
    - claims: decided (approved or rejected) in the week, per outcome and currency, with the
      amounts claimed and, for approved claims, approved.
    - top 5 faults and product models: among the week's ledger rows (largest first, ties by key).
    - follow-up calls: reached in the week (called_dt), the average satisfaction of those that
      gave one (2 decimals) and how many gave each score 1-5.
    - suggestions: submitted (created_dt) in the week; adopted (decided_dt) in the week.
    """
    now = now or utcnow()
    period = iso_week(week)
    deadline = Job.arrival_deadline_dt
    jobs_opened, jobs_resolved, jobs_closed, missed, suggestions_submitted, suggestions_adopted = _counts(
        _count(Job, _within(Job.created_dt, period)),
        _count(Job, _within(Job.resolved_dt, period)),
        _count(Job, Job.status == CLOSED, _within(Job.closed_dt, period)),
        _count(Job, _within(deadline, period), deadline < now,
               or_(Job.checked_in_dt > deadline,
                   and_(Job.checked_in_dt.is_(None),
                        or_(Job.status != CANCELLED, Job.closed_dt.is_(None), Job.closed_dt > deadline)))),
        _count(Suggestion, _within(Suggestion.created_dt, period)),
        _count(Suggestion, Suggestion.status == ADOPTED, _within(Suggestion.decided_dt, period)),
    )
    complaints = dict.fromkeys(COMPLAINT_CATEGORIES, 0)
    repeated = 0
    for category, n, repeats in db.session.execute(
        select(Complaint.category, func.count(Complaint.id),
               func.coalesce(func.sum(case((Complaint.escalated.is_(True), 1), else_=0)), 0))
        .where(_within(Complaint.logged_dt, period)).group_by(Complaint.category)
    ):
        complaints[category] = n
        repeated += int(repeats or 0)
    claims = [
        ClaimOutcome(status, currency, n, Decimal(claimed or 0).quantize(Decimal("0.01")),
                     Decimal(approved or 0).quantize(Decimal("0.01")))
        for status, currency, n, claimed, approved in db.session.execute(
            select(Claim.status, Claim.currency, func.count(Claim.id), func.sum(Claim.amount_claimed),
                   func.sum(case((Claim.status == APPROVED, Claim.approved_amount), else_=None)))
            .where(Claim.status.in_((APPROVED, REJECTED)), _within(Claim.decided_dt, period))
            .group_by(Claim.status, Claim.currency).order_by(Claim.status, Claim.currency)
        )
    ]
    ledger, ledger_rows = fault_counts_by_every_dimension(period.start_dt, period.end_dt)
    leaves = ledger["leaf"][:TOP_N]
    categories = _categories(k for k, _ in leaves)
    satisfaction = dict.fromkeys(range(1, 6), 0)
    reached = 0
    for score, n in db.session.execute(  # those reached without giving a score are the None group
        select(FollowUp.satisfaction, func.count(FollowUp.id))
        .where(FollowUp.outcome == REACHED, _within(FollowUp.called_dt, period)).group_by(FollowUp.satisfaction)
    ):
        reached += n
        if score is not None:
            satisfaction[score] = n
    scored = sum(satisfaction.values())
    average = (Decimal(sum(s * n for s, n in satisfaction.items())) / scored).quantize(Decimal("0.01")) \
        if scored else None
    return WeeklySummary(
        week=period, jobs_opened=jobs_opened, jobs_resolved=jobs_resolved, jobs_closed=jobs_closed,
        ledger_rows=ledger_rows, deadlines_missed=missed,
        complaints=complaints, complaints_repeated=repeated, claims=claims,
        top_faults=[(categories[k], n) for k, n in leaves if k in categories],
        top_models=ledger["model"][:TOP_N],
        follow_ups_reached=reached, satisfaction_average=average, satisfaction=satisfaction,
        suggestions_submitted=suggestions_submitted, suggestions_adopted=suggestions_adopted,
        as_of=now,
    )


@dataclass(frozen=True)
class SummaryItem:
    """One line of the summary: its section, what it is, its value, and optionally the ledger
    rows behind it."""

    section: str
    item: str
    value: str
    filters: LedgerFilters | None = None


def summary_items(summary: WeeklySummary, gettext: Callable[..., str], language: str = "en") -> list[SummaryItem]:
    """The summary as labelled lines, in the language `gettext` translates to (page and CSV)."""
    from ...labels import COMPLAINT_CATEGORY_LABELS, SATISFACTION_LABELS
    from ...labels import CLAIM_STATUS_LABELS

    week = summary.week
    ledger_week = LedgerFilters(date_from=week.first_day, date_to=week.last_day)
    items: list[SummaryItem] = []

    def add(section, item, value, filters=None):
        items.append(SummaryItem(str(section), str(item), "" if value is None else str(value), filters))

    section = gettext("Week")
    add(section, gettext("ISO week"), week.name)
    add(section, gettext("First day"), week.first_day.isoformat())
    add(section, gettext("Last day"), week.last_day.isoformat())

    section = gettext("Jobs")
    add(section, gettext("Jobs opened"), summary.jobs_opened)
    add(section, gettext("Jobs resolved"), summary.jobs_resolved)
    add(section, gettext("Jobs closed"), summary.jobs_closed)
    add(section, gettext("Service records in the ledger"), summary.ledger_rows, ledger_week)
    add(section, gettext("Arrival deadlines missed"), summary.deadlines_missed)

    section = gettext("Complaints")
    for category, n in summary.complaints.items():
        add(section, COMPLAINT_CATEGORY_LABELS.get(category, category), n)
    add(section, gettext("All complaints"), summary.complaints_total)
    add(section, gettext("Repeated complaints (escalated)"), summary.complaints_repeated)

    section = gettext("Claims decided")
    currencies = sorted({c.currency for c in summary.claims}) or ["CNY"]
    by_key = {(c.outcome, c.currency): c for c in summary.claims}
    for outcome in (APPROVED, REJECTED):
        name = CLAIM_STATUS_LABELS.get(outcome, outcome)
        add(section, gettext("%(outcome)s: claims", outcome=name),
            sum(c.count for c in summary.claims if c.outcome == outcome))
        for currency in currencies:
            c = by_key.get((outcome, currency))
            add(section, gettext("%(outcome)s: amount claimed (%(currency)s)", outcome=name, currency=currency),
                c.amount_claimed if c else "0.00")
            if outcome == APPROVED:
                add(section, gettext("%(outcome)s: amount approved (%(currency)s)", outcome=name, currency=currency),
                    c.amount_approved if c else "0.00")

    section = gettext("Top fault categories")
    for category, n in summary.top_faults:
        add(section, category_label(category, language), n,
            LedgerFilters(date_from=week.first_day, date_to=week.last_day, fault_category_id=category.id))
    section = gettext("Top product models")
    for model, n in summary.top_models:
        add(section, model, n, LedgerFilters(date_from=week.first_day, date_to=week.last_day, model_exact=model))

    section = gettext("Follow-up calls")
    add(section, gettext("Customers reached"), summary.follow_ups_reached)
    add(section, gettext("Average satisfaction (1-5)"), summary.satisfaction_average)
    for score, n in summary.satisfaction.items():
        add(section, gettext("Satisfaction %(score)s: %(label)s", score=score, label=SATISFACTION_LABELS[score]), n)

    section = gettext("Quality improvement suggestions")
    add(section, gettext("Suggestions submitted"), summary.suggestions_submitted)
    add(section, gettext("Suggestions adopted"), summary.suggestions_adopted)
    return items


def summary_rows(summary: WeeklySummary, gettext: Callable[..., str], language: str = "en") -> list[tuple[str, str, str]]:
    """The summary's CSV: a header (section, item, value) and one row per figure, long format
    (the columns never change; the rows follow the data only for top lists and currencies)."""
    header = (gettext("Section"), gettext("Item"), gettext("Value"))
    return [header, *((i.section, i.item, i.value) for i in summary_items(summary, gettext, language))]


def current_week() -> str:
    return week_name(utcnow())


def default_fault_period(weeks: int = 8, last: str | None = None) -> tuple[str, str]:
    """The first and last week of a period of `weeks` weeks ending with `last` (default: this week)."""
    last = last or current_week()
    return shift_week(last, -(weeks - 1)), last


@dataclass
class DashboardCharts:
    """What the supervisor dashboard charts: the last weeks' fault statistics (as they were at
    `as_of`: they may come from the cache) and the open flags (always live)."""

    stats: FaultStatistics
    flags: list[tuple[QualityFlag, str]]  # each open flag with its fault's label
    as_of: datetime = field(default_factory=utcnow)


class TimedCache:
    """Values computed once and kept `ttl` seconds, in this process, safe across threads.

    While one thread computes a key's value, the others asking for the same key wait for it
    instead of computing it too (the dashboard's charts cost about a second on a big database).
    `clock` returns seconds (monotonic); tests pass their own instead of sleeping.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[object, tuple[float, object]] = {}  # key -> (expires at, value)
        self._key_locks: dict[object, threading.Lock] = {}

    def _fresh(self, key):
        entry = self._entries.get(key)
        return entry if entry is not None and entry[0] > self._clock() else None

    def get(self, key, ttl: float, compute: Callable[[], object]):
        """The value kept for `key` if it is younger than `ttl` seconds, else compute() (kept)."""
        if ttl <= 0:
            return compute()
        with self._lock:
            entry = self._fresh(key)
            if entry is not None:
                return entry[1]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # computed by another thread while this one waited?
                entry = self._fresh(key)
            if entry is not None:
                return entry[1]
            value = compute()  # an error propagates and nothing is kept
            with self._lock:
                now = self._clock()
                # Drop what has expired, so the keys of past weeks do not pile up.
                for old in [k for k, (expires, _) in self._entries.items() if expires <= now]:
                    del self._entries[old]
                    if old != key and not self._key_locks[old].locked():
                        del self._key_locks[old]
                self._entries[key] = (now + ttl, value)
            return value


def dashboard_charts_cache() -> TimedCache:
    """The app's cache of the dashboard's charts (one per app, so per database)."""
    return current_app.extensions.setdefault("dashboard_charts_cache", TimedCache())


def dashboard_charts(language: str, weeks: int = 8, cache: TimedCache | None = None) -> DashboardCharts:
    """The supervisor dashboard's charts (policy 2.3, 2.4).

    The fault statistics are kept DASHBOARD_CHARTS_TTL seconds per language and period (the
    page says as of when): every supervisor's start page would otherwise count eight weeks of
    ledger rows on each visit. The open quality flags are read live, as the counts above them.
    The statistics page itself always counts live.
    """
    first, last = default_fault_period(weeks)
    stats, as_of = (cache or dashboard_charts_cache()).get(
        (language, first, last), current_app.config["DASHBOARD_CHARTS_TTL"],
        lambda: (fault_statistics(first, last, None, language), utcnow()))
    flags = open_quality_flags(limit=5)
    return DashboardCharts(stats=stats, flags=[(f, category_label(f.fault_category, language)) for f in flags],
                           as_of=as_of)
