"""Rules of quality improvement suggestions (policy 3.11, 5.2), penalty and reward records
(policy 4, 5), technicians' scorecards and the supervisor dashboard's counts.

Performance candidates are COMPUTED from the records (complaints, jobs, inspections, claims,
suggestions) every time they are asked for; nothing is stored until a supervisor confirms or
dismisses one. A decision is a PerformanceRecord row whose basis_key (unique) names what it rests
on, so a basis is decided once, for good, and never proposed again.

The rules, for a quarter in the centre's time zone (services/periods.py):

* 4.1 penalty: a complaint of category late_arrival logged in the quarter, about a technician
  (the complaint's technician, else its job's technician), whose job was checked in after its
  arrival deadline (Job.late). A late-arrival complaint about a job that was on time, or without
  a job, is no candidate: the policy penalises lateness that led to a complaint.
* 4.2 penalty: a complaint of category poor_communication logged in the quarter, about a
  technician (the complaint's, else its job's).
* 4.3 penalty: a complaint of category inspection_negligence logged in the quarter, about the
  person who inspected the delivery: the technician the complaint names, else the inspector of
  the job's latest submitted site-delivery inspection, else the job's technician.
* 4.4 penalty: a loss after receipt at the centre: a claim APPROVED in the quarter whose
  inspection is a submitted centre-receipt inspection with result PASSED: the inspector let the
  damage through, and the company paid for it. The inspector is the one concerned.
* 5.1 reward: each active technician (account created before the quarter ends) about whom no
  complaint was logged in the quarter (neither naming them, nor on a job of theirs, nor held
  against them as the inspector under 4.3). Not proposed
  for a quarter that has not begun; while the quarter runs it is provisional: it may be
  dismissed but not confirmed, and a complaint logged later removes it.
* 5.2 reward: a suggestion adopted in the quarter whose author is a technician.

Plain functions: they flush, the route commits once.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, case, cast, func, literal, or_, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from ...extensions import db
from ...models import Claim, Complaint, Escalation, FaultCategory, Inspection, Job, PerformanceRecord, Suggestion, \
    User, utcnow
from ...models.claims import APPROVED
from ...models.complaints import INSPECTION_NEGLIGENCE, LATE_ARRIVAL, POOR_COMMUNICATION
from ...models.inspections import CENTRE_RECEIPT, PASSED, SITE_DELIVERY, SUBMITTED as INSPECTION_SUBMITTED
from ...models.performance import CANDIDATE, CLAUSES, CONFIRMED, DISMISSED, PENALTY, REWARD, SEVERITIES
from ...models.quality import ADOPTED, NOT_ADOPTED, PROPOSED, SUGGESTION_STATUSES
from ...models.users import SUPERVISOR, TECHNICIAN
from ...services.audit import record_event
from ...services.lifecycle import TransitionError
from ...services.periods import Period, PeriodError, quarter, quarter_name

TITLE_MAX = 200
BODY_MAX = 5000
MODEL_MAX = 120
NOTE_MAX = 2000
CONFIRM = "confirm"
DISMISS = "dismiss"
DECISIONS = (CONFIRM, DISMISS)


class PerformanceError(TransitionError):
    """A change the suggestion or performance rules do not allow; str(error) is shown to the
    user, `field` names the form field it belongs to (None: the whole form)."""

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.field = field


# --- quality improvement suggestions (policy 3.11, 5.2) ----------------------------------


@dataclass
class SuggestionData:
    title: str
    body: str
    product_model: str = ""
    fault_category_id: int | None = None
    claim_reference: str = ""


_CLAIM_REFERENCE = re.compile(r"^[Cc]?0*(\d{1,9})$")


def claim_for_suggestion(actor: User, reference: str) -> Claim | None:
    """The claim a suggestion refers to ("C000012" or "12"); None when left blank.

    The claim must exist AND the author must be allowed to see it (claims' own visibility rule),
    so the field cannot be used to find out which claim numbers exist. Both cases read the same.
    """
    from ..claims.operations import visible_claim

    text = (reference or "").strip()
    if not text:
        return None
    match = _CLAIM_REFERENCE.match(text)
    claim = visible_claim(actor, int(match.group(1))) if match else None
    if claim is None:
        raise PerformanceError(_l("No claim %(ref)s that you can see. Write it as on the claim, e.g. C000012.",
                                  ref=text[:20]), "claim_reference")
    return claim


def submit_suggestion(actor: User, data: SuggestionData, now: datetime | None = None) -> Suggestion:
    """Anyone on staff: propose a product-quality improvement (policy 3.11)."""
    now = now or utcnow()
    title = (data.title or "").strip()
    body = (data.body or "").strip()
    if not title:
        raise PerformanceError(_l("Give the suggestion a short title."), "title")
    if len(title) > TITLE_MAX:
        raise PerformanceError(_l("Keep the title under %(n)s characters.", n=TITLE_MAX), "title")
    if not body:
        raise PerformanceError(_l("Describe the suggestion: what to change, and what you saw at customers."), "body")
    if len(body) > BODY_MAX:
        raise PerformanceError(_l("Keep the description under %(n)s characters.", n=BODY_MAX), "body")
    category = None
    if data.fault_category_id is not None:
        category = db.session.get(FaultCategory, data.fault_category_id)
        if category is None or not category.active:
            raise PerformanceError(_l("Choose a fault category from the list."), "fault_category_id")
    claim = claim_for_suggestion(actor, data.claim_reference)
    suggestion = Suggestion(author_id=actor.id, created_dt=now, title=title, body=body,
                            product_model=(data.product_model or "").strip()[:MODEL_MAX],
                            fault_category=category, claim=claim, status=PROPOSED)
    db.session.add(suggestion)
    db.session.flush()
    record_event("suggestion", suggestion.id, "submit", actor, None, PROPOSED, when=now)
    return suggestion


def decide_suggestion(suggestion: Suggestion, decision: str, note: str, actor: User,
                      now: datetime | None = None) -> Suggestion:
    """Supervisor: adopt the suggestion or not, with a note. The decision is final (an adopted
    technician's suggestion becomes a 5.2 reward candidate)."""
    now = now or utcnow()
    if actor.role != SUPERVISOR:
        raise PerformanceError(_l("Only a supervisor decides on suggestions."))
    if suggestion.status != PROPOSED:
        raise PerformanceError(_l("This suggestion was already decided; the decision is final."))
    if decision not in (ADOPTED, NOT_ADOPTED):
        raise PerformanceError(_l("Choose: adopted or not adopted."), "decision")
    note = (note or "").strip()
    if not note:
        raise PerformanceError(_l("Write a note: why it is adopted or not, and what happens next."), "note")
    if len(note) > NOTE_MAX:
        raise PerformanceError(_l("Keep the note under %(n)s characters.", n=NOTE_MAX), "note")
    suggestion.status = decision
    suggestion.decided_by_id = actor.id
    suggestion.decided_dt = now
    suggestion.decision_note = note
    try:
        db.session.flush()
    except StaleDataError:  # another supervisor decided at the same moment: theirs stands
        raise PerformanceError(_l("This suggestion was already decided; the decision is final.")) from None
    record_event("suggestion", suggestion.id, "decide", actor, PROPOSED, decision, reason=note, when=now)
    return suggestion


def suggestions_query(status: str | None = None):
    """Suggestions, newest first; only those in `status` when it is one of the statuses."""
    stmt = select(Suggestion).options(joinedload(Suggestion.author), joinedload(Suggestion.fault_category))
    if status in SUGGESTION_STATUSES:
        stmt = stmt.where(Suggestion.status == status)
    return stmt.order_by(Suggestion.created_dt.desc(), Suggestion.id.desc())


def awaiting_suggestions_count() -> int:
    """Suggestions waiting for a supervisor's decision (the dashboard)."""
    return db.session.scalar(select(func.count()).select_from(Suggestion).where(Suggestion.status == PROPOSED)) or 0


# --- performance candidates (policy 4, 5) ------------------------------------------------


@dataclass
class Candidate:
    """A penalty or reward the records suggest, not yet decided (never stored as such)."""

    technician: User
    clause: str
    basis_key: str
    quarter: str
    summary: str
    complaint: Complaint | None = None
    job: Job | None = None
    suggestion: Suggestion | None = None
    claim: Claim | None = None
    inspection: Inspection | None = None
    provisional: bool = False  # 5.1 while the quarter runs: can be dismissed, not confirmed

    @property
    def kind(self) -> str:
        return CLAUSES[self.clause]

    @property
    def slug(self) -> str:
        return slug(self.basis_key)


def slug(basis_key: str) -> str:
    """A basis_key as the HTML id of its candidate card."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", basis_key or "")


def parse_quarter(name: str) -> Period:
    """The quarter '2026-Q4' in the centre's zone, or PerformanceError for a bad name."""
    try:
        return quarter(name)
    except PeriodError:
        raise PerformanceError(_l("%(q)s is not a quarter. Write it like 2026-Q4.", q=(name or "")[:20]),
                               "quarter") from None


def current_quarter(now: datetime | None = None) -> str:
    return quarter_name(now or utcnow())


def _refs(*parts) -> str:
    """What a candidate rests on, as references (T000012 · J000003 ...): the same in every
    language, stored with the decision; pages describe it in words from the clause."""
    return " · ".join(getattr(p, "reference", p) for p in parts if p)


def _complaint_technician(complaint: Complaint) -> User | None:
    """Whom a complaint is about: the technician it names, else its job's technician."""
    return complaint.technician or (complaint.job.technician if complaint.job else None)


def performance_candidates(quarter_name: str, now: datetime | None = None) -> list[Candidate]:
    """The quarter's penalty and reward candidates not decided yet, grouped by technician
    (by name), penalties first. A fixed number of queries, whatever the amount of data."""
    now = now or utcnow()
    period = parse_quarter(quarter_name)
    found: list[Candidate] = []

    # 4.1, 4.2, 4.3: complaints of the quarter (one query, with their jobs and technicians).
    complaints = list(db.session.scalars(
        select(Complaint)
        .where(Complaint.logged_dt >= period.start_dt, Complaint.logged_dt < period.end_dt,
               Complaint.category.in_((LATE_ARRIVAL, POOR_COMMUNICATION, INSPECTION_NEGLIGENCE)))
        .options(joinedload(Complaint.job).joinedload(Job.technician), joinedload(Complaint.technician),
                 joinedload(Complaint.customer))
        .order_by(Complaint.logged_dt, Complaint.id)))
    negligence_jobs = {c.job_id for c in complaints if c.category == INSPECTION_NEGLIGENCE and c.job_id}
    inspections: dict[int, Inspection] = {}
    if negligence_jobs:
        for inspection in db.session.scalars(
                select(Inspection).where(Inspection.job_id.in_(negligence_jobs), Inspection.kind == SITE_DELIVERY,
                                         Inspection.status == INSPECTION_SUBMITTED)
                .options(joinedload(Inspection.inspector))
                .order_by(Inspection.submitted_dt, Inspection.id)):
            inspections[inspection.job_id] = inspection  # the latest (a correction) wins
    for complaint in complaints:
        job = complaint.job
        inspection = None
        if complaint.category == LATE_ARRIVAL:
            clause, technician = "4.1", _complaint_technician(complaint)
            if job is None or not job.late:
                continue  # policy 4.1: lateness that led to a complaint, nothing less
        elif complaint.category == POOR_COMMUNICATION:
            clause, technician = "4.2", _complaint_technician(complaint)
        else:
            inspection = inspections.get(complaint.job_id) if complaint.job_id else None
            clause = "4.3"
            technician = complaint.technician or (inspection.inspector if inspection else None) or (
                job.technician if job else None)
        if technician is None:
            continue
        summary = _refs(complaint, job, inspection)
        found.append(Candidate(technician, clause, f"{clause}:complaint:{complaint.id}", period.name, summary,
                               complaint=complaint, job=job, inspection=inspection))

    # 4.4: approved claims on goods a centre-receipt inspection had passed.
    for claim in db.session.scalars(
            select(Claim).join(Inspection, Claim.inspection_id == Inspection.id)
            .where(Claim.status == APPROVED, Claim.decided_dt >= period.start_dt, Claim.decided_dt < period.end_dt,
                   Inspection.kind == CENTRE_RECEIPT, Inspection.status == INSPECTION_SUBMITTED,
                   Inspection.result == PASSED)
            .options(joinedload(Claim.inspection).joinedload(Inspection.inspector), joinedload(Claim.job))
            .order_by(Claim.decided_dt, Claim.id)):
        inspection = claim.inspection
        amount = f"{claim.approved_amount} {claim.currency}" if claim.approved_amount is not None else None
        summary = _refs(claim, claim.job, inspection, amount)
        found.append(Candidate(inspection.inspector, "4.4", f"4.4:claim:{claim.id}", period.name, summary,
                               job=claim.job, claim=claim, inspection=inspection))

    # 5.1: active technicians without a complaint in the quarter (not before the quarter begins).
    if now >= period.start_dt:
        # The technicians no complaint of the quarter names; then, of those, the ones a complaint
        # is about through a job of theirs (as _clean_quarter_candidates_count counts them).
        unnamed = list(db.session.scalars(select(User).where(*_unnamed_in_quarter(period))))
        complained: set[int] = set(db.session.scalars(
            _complained_through_their_jobs({t.id for t in unnamed}, period))) if unnamed else set()
        # A delivery-negligence complaint counts against its inspector too (4.3 above).
        complained.update(c.technician.id for c in found if c.complaint is not None)
        provisional = now < period.end_dt
        for technician in unnamed:
            if technician.id in complained:
                continue
            summary = f"{period.name} · {technician.display_name}"
            found.append(Candidate(technician, "5.1", f"5.1:{period.name}:user:{technician.id}", period.name,
                                   summary, provisional=provisional))

    # 5.2: technicians' suggestions adopted in the quarter.
    for suggestion in db.session.scalars(
            select(Suggestion).join(User, Suggestion.author_id == User.id)
            .where(Suggestion.status == ADOPTED, Suggestion.decided_dt >= period.start_dt,
                   Suggestion.decided_dt < period.end_dt, User.role == TECHNICIAN)
            .options(joinedload(Suggestion.author)).order_by(Suggestion.decided_dt, Suggestion.id)):
        summary = _refs(suggestion, suggestion.title)
        found.append(Candidate(suggestion.author, "5.2", f"5.2:suggestion:{suggestion.id}", period.name, summary,
                               suggestion=suggestion))

    keys = [c.basis_key for c in found]
    decided = set(db.session.scalars(
        select(PerformanceRecord.basis_key).where(PerformanceRecord.basis_key.in_(keys)))) if keys else set()
    found = [c for c in found if c.basis_key not in decided and c.technician is not None]
    found.sort(key=lambda c: (c.technician.display_name.lower(), c.technician.id, c.kind != PENALTY, c.clause,
                              c.basis_key))
    return found


def candidates_by_technician(candidates: list[Candidate]) -> list[tuple[User, list[Candidate]]]:
    """The candidates in groups, one per technician, in the order given."""
    groups: dict[int, tuple[User, list[Candidate]]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.technician.id, (candidate.technician, []))[1].append(candidate)
    return list(groups.values())


def pending_candidates_count(quarter_name: str | None = None, now: datetime | None = None) -> int:
    """Candidates waiting for a supervisor's decision (the current quarter by default).

    Exactly len(performance_candidates(...)), counted in SQL: the dashboard asks for it on every
    visit, and building each candidate of a busy quarter as objects took seconds (issue 7). The
    same rules, clause by clause, as performance_candidates; tests/performance compare the two.
    A statement or two per rule, not one for all: PostgreSQL compiles a statement whose estimated
    cost is large (jit_above_cost), and for these counts compiling took ten times as long as running.
    """
    now = now or utcnow()
    period = parse_quarter(quarter_name or current_quarter(now))
    counts = [_complaint_candidates_count(period), _loss_candidates_count(period),
              _suggestion_candidates_count(period)]
    total = sum(db.session.scalar(count) or 0 for count in counts)
    if now >= period.start_dt:
        total += _clean_quarter_candidates_count(period)
    return total


def _undecided(basis_key):
    """No decision rests on the basis `basis_key` (an SQL expression building the key exactly
    as performance_candidates writes it); the unique index on basis_key answers it."""
    return ~select(PerformanceRecord.id).where(PerformanceRecord.basis_key == basis_key).exists()


def _in_quarter(column, period: Period):
    return and_(column >= period.start_dt, column < period.end_dt)


def _complaint_candidates_count(period: Period):
    """4.1, 4.2, 4.3: complaints of the quarter about someone, 4.1 only on a late job.

    Whom a complaint is about is never NULL when it names a technician or its job has one; else
    (4.3 only) when its job has a submitted site-delivery inspection, whose inspector is never
    NULL. So the count is disjoint sets, with no need to find the latest inspection. The job is
    looked up only where the rule needs it (4.1's lateness, a complaint naming nobody): a 4.2 or
    4.3 complaint naming a technician counts as it is (at 1M jobs, ~1,800 job lookups a quarter
    instead of ~7,000).
    """
    clause = case((Complaint.category == LATE_ARRIVAL, literal("4.1")),
                  (Complaint.category == POOR_COMMUNICATION, literal("4.2")), else_=literal("4.3"))

    def count(categories, *where, with_job=True):
        stmt = select(func.count()).select_from(Complaint)
        if with_job:
            stmt = stmt.join(Job, Complaint.job_id == Job.id)
        return (stmt.where(_in_quarter(Complaint.logged_dt, period), Complaint.category.in_(categories),
                           _undecided(clause + literal(":complaint:") + cast(Complaint.id, String)), *where)
                .scalar_subquery())

    delivery_inspected = select(Inspection.id).where(
        Inspection.job_id == Complaint.job_id, Inspection.kind == SITE_DELIVERY,
        Inspection.status == INSPECTION_SUBMITTED).exists()
    return select(
        # 4.2, 4.3 naming a technician: about them.
        count((POOR_COMMUNICATION, INSPECTION_NEGLIGENCE), Complaint.technician_id.is_not(None), with_job=False)
        # 4.1 on a late job, about the technician it names, else the job's.
        + count((LATE_ARRIVAL,), Job.late.is_(True),
                or_(Complaint.technician_id.is_not(None), Job.technician_id.is_not(None)))
        # 4.2, 4.3 naming nobody: about the job's technician; 4.3 without one, the delivery's inspector.
        + count((POOR_COMMUNICATION, INSPECTION_NEGLIGENCE), Complaint.technician_id.is_(None),
                or_(Job.technician_id.is_not(None),
                    and_(Complaint.category == INSPECTION_NEGLIGENCE, delivery_inspected))))


def _loss_candidates_count(period: Period):
    """4.4: approved claims of the quarter on goods a centre-receipt inspection passed.

    Only claims with an inspection can be one (the inner join says as much); saying so lets
    PostgreSQL read them from the partial index ix_claims_inspected_decided, and look up their
    inspections one by one, instead of hashing every passed receipt inspection.
    """
    return (select(func.count()).select_from(Claim)
            .join(Inspection, Claim.inspection_id == Inspection.id)
            .where(Claim.inspection_id.is_not(None), Claim.status == APPROVED, _in_quarter(Claim.decided_dt, period),
                   Inspection.kind == CENTRE_RECEIPT, Inspection.status == INSPECTION_SUBMITTED,
                   Inspection.result == PASSED,
                   _undecided(literal("4.4:claim:") + cast(Claim.id, String))))


def _latest_delivery_inspector(job_id):
    """The inspector of the job's latest submitted site-delivery inspection (the last of them
    by submitted_dt, id, as performance_candidates keeps it), or NULL."""
    return (select(Inspection.inspector_id)
            .where(Inspection.job_id == job_id, Inspection.kind == SITE_DELIVERY,
                   Inspection.status == INSPECTION_SUBMITTED)
            .order_by(Inspection.submitted_dt.desc(), Inspection.id.desc()).limit(1)
            .correlate_except(Inspection).scalar_subquery())


def _clean_quarter_candidates_count(period: Period) -> int:
    """5.1: active technicians about whom no complaint was logged in the quarter: naming them,
    on a job of theirs, or held against them as the inspector of a delivery (4.3).

    Two statements, each cheap for what it reads. First the technicians no complaint of the
    quarter names (one probe of ix_complaints_technician_logged each): in a busy quarter none or
    a few, and then that is all. Then, of those, the ones a complaint of the quarter is about all
    the same, through a job of theirs or as inspectors; given their ids, PostgreSQL knows how many
    jobs that is (ix_jobs_technician_id_id) and joins them to the quarter's complaints the cheap
    way round. As one statement it looked up the job of every complaint of the quarter (1M jobs:
    ~19,000 lookups, 100-150 ms); asked per technician, it guessed that most would have a
    complaint on a job and stop early, and for clean technicians read all their jobs' complaints.
    """
    in_quarter = _in_quarter(Complaint.logged_dt, period)
    unnamed = set(db.session.scalars(
        select(User.id).where(*_unnamed_in_quarter(period),
                              _undecided(literal(f"5.1:{period.name}:user:") + cast(User.id, String)))))
    if not unnamed:
        return 0
    complained = union(
        _complained_through_their_jobs(unnamed, period),
        # 4.3 holds the complaint against the inspector only when it names nobody.
        select(_latest_delivery_inspector(Complaint.job_id)).where(
            in_quarter, Complaint.category == INSPECTION_NEGLIGENCE, Complaint.technician_id.is_(None),
            Complaint.job_id.is_not(None)),
    )
    return len(unnamed - set(db.session.scalars(complained)))


def _unnamed_in_quarter(period: Period) -> tuple:
    """Conditions on User: an active technician (hired before the quarter ended) whom no complaint
    of the quarter names (5.1; one probe of ix_complaints_technician_logged each)."""
    return (User.role == TECHNICIAN, User.active.is_(True), User.created_dt < period.end_dt,
            ~select(Complaint.id).where(Complaint.technician_id == User.id,
                                        _in_quarter(Complaint.logged_dt, period)).exists())


def _complained_through_their_jobs(technician_ids, period: Period):
    """Which of these technicians a complaint of the quarter is about through a job of theirs.
    Given the ids, PostgreSQL reads just their jobs (ix_jobs_technician_id_id); joining every
    complaint of the quarter to its job instead hashes the whole jobs index (143 ms on 1M jobs)."""
    return (select(Job.technician_id).join(Complaint, Complaint.job_id == Job.id)
            .where(Job.technician_id.in_(sorted(technician_ids)), _in_quarter(Complaint.logged_dt, period)))


def _suggestion_candidates_count(period: Period):
    """5.2: technicians' suggestions adopted in the quarter."""
    return (select(func.count(Suggestion.id)).select_from(Suggestion)
            .join(User, Suggestion.author_id == User.id)
            .where(Suggestion.status == ADOPTED, _in_quarter(Suggestion.decided_dt, period),
                   User.role == TECHNICIAN,
                   _undecided(literal("5.2:suggestion:") + cast(Suggestion.id, String))))


def decide_candidate(basis_key: str, quarter_name: str, decision: str, severity: str | None, note: str,
                     actor: User, now: datetime | None = None) -> PerformanceRecord:
    """Supervisor: confirm (with a severity) or dismiss one candidate, with a note.

    The candidate is computed again first: one that is no longer proposed (a complaint closed as
    not about the technician, a complaint logged later in the quarter for 5.1) is refused. The
    decision is final: a second decision on the same basis is refused, also under a race.
    """
    now = now or utcnow()
    if actor.role != SUPERVISOR:
        raise PerformanceError(_l("Only a supervisor decides on penalties and rewards."))
    if decision not in DECISIONS:
        raise PerformanceError(_l("Choose: confirm or dismiss."), "decision")
    note = (note or "").strip()
    severity = (severity or "").strip() or None
    if decision == CONFIRM and severity not in SEVERITIES:
        raise PerformanceError(_l("Choose the severity."), "severity")
    if not note:
        raise PerformanceError(_l("Write a note: the reason for the decision."), "note")
    if len(note) > NOTE_MAX:
        raise PerformanceError(_l("Keep the note under %(n)s characters.", n=NOTE_MAX), "note")
    existing = db.session.scalar(select(PerformanceRecord).where(PerformanceRecord.basis_key == basis_key))
    if existing is not None:
        raise _already_decided(existing)
    candidate = next((c for c in performance_candidates(quarter_name, now) if c.basis_key == basis_key), None)
    if candidate is None:
        raise PerformanceError(_l("This is no longer a candidate: the records behind it have changed."))
    if decision == CONFIRM and candidate.provisional:
        raise PerformanceError(_l("The quarter is not over yet: a reward for a quarter without complaints is "
                                  "confirmed once it ends. You may dismiss it now."), "decision")
    return record_decision(candidate, decision, severity if decision == CONFIRM else None, note, actor, now)


def _already_decided(record: PerformanceRecord | None) -> PerformanceError:
    if record is not None and record.status == CONFIRMED:
        return PerformanceError(_l("Already decided: it was confirmed, and a confirmed record is final."))
    if record is not None and record.status == DISMISSED:
        return PerformanceError(_l("Already decided: it was dismissed, and the decision is final."))
    return PerformanceError(_l("Already decided by another supervisor; the decision is final."))


def record_decision(candidate: Candidate, decision: str, severity: str | None, note: str, actor: User,
                    now: datetime) -> PerformanceRecord:
    """Store the decision on a candidate (the checks are decide_candidate's). The unique
    basis_key turns a simultaneous second decision into a clear refusal."""
    status = CONFIRMED if decision == CONFIRM else DISMISSED
    record = PerformanceRecord(
        technician_id=candidate.technician.id, quarter=candidate.quarter, kind=candidate.kind,
        clause=candidate.clause, basis_key=candidate.basis_key,
        complaint_id=candidate.complaint.id if candidate.complaint else None,
        job_id=candidate.job.id if candidate.job else None,
        suggestion_id=candidate.suggestion.id if candidate.suggestion else None,
        summary=candidate.summary[:2000], proposed_dt=now, status=status, severity=severity, note=note,
        decided_by_id=actor.id, decided_dt=now)
    try:
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError:  # the savepoint is rolled back; the outer transaction goes on
        other = db.session.scalar(select(PerformanceRecord).where(PerformanceRecord.basis_key == candidate.basis_key))
        raise _already_decided(other) from None
    record_event("performance_record", record.id, decision, actor, CANDIDATE, status,
                 reason=f"{candidate.basis_key}: {note}", when=now)
    return record


def quarter_records(quarter_name: str) -> list[PerformanceRecord]:
    """The decisions taken on a quarter's candidates, newest first."""
    return list(db.session.scalars(
        select(PerformanceRecord).where(PerformanceRecord.quarter == quarter_name)
        .options(joinedload(PerformanceRecord.technician), joinedload(PerformanceRecord.decided_by))
        .order_by(PerformanceRecord.decided_dt.desc(), PerformanceRecord.id.desc())))


# --- scorecards --------------------------------------------------------------------------


@dataclass
class QuarterLine:
    quarter: str
    complaints: int = 0
    late_arrivals: int = 0
    jobs_resolved: int = 0
    penalties: int = 0
    rewards: int = 0


@dataclass
class Scorecard:
    technician: User
    lines: list[QuarterLine] = field(default_factory=list)  # newest quarter first
    records: list[PerformanceRecord] = field(default_factory=list)  # confirmed only

    @property
    def totals(self) -> QuarterLine:
        total = QuarterLine("")
        for line in self.lines:
            for name in ("complaints", "late_arrivals", "jobs_resolved", "penalties", "rewards"):
                setattr(total, name, getattr(total, name) + getattr(line, name))
        return total


def scorecard(technician: User, now: datetime | None = None) -> Scorecard:
    """A technician's record by quarter: complaints about them, late arrivals, jobs resolved,
    and their CONFIRMED penalties and rewards (never candidates or dismissed ones)."""
    now = now or utcnow()
    lines: dict[str, QuarterLine] = defaultdict(lambda: QuarterLine(""))

    def line(name: str) -> QuarterLine:
        entry = lines[name]
        entry.quarter = name
        return entry

    line(current_quarter(now))
    # Complaints about them: naming them, or on a job of theirs (the 5.1 rule).
    for (logged_dt,) in db.session.execute(
            select(Complaint.logged_dt).outerjoin(Job, Complaint.job_id == Job.id)
            .where(or_(Complaint.technician_id == technician.id, Job.technician_id == technician.id))):
        line(quarter_name(logged_dt)).complaints += 1
    for checked_in_dt, resolved_dt, late in db.session.execute(
            select(Job.checked_in_dt, Job.resolved_dt, Job.late).where(
                Job.technician_id == technician.id, or_(Job.late.is_(True), Job.resolved_dt.is_not(None)))):
        if late and checked_in_dt is not None:
            line(quarter_name(checked_in_dt)).late_arrivals += 1
        if resolved_dt is not None:
            line(quarter_name(resolved_dt)).jobs_resolved += 1
    records = list(db.session.scalars(
        select(PerformanceRecord).where(PerformanceRecord.technician_id == technician.id,
                                        PerformanceRecord.status == CONFIRMED)
        .options(joinedload(PerformanceRecord.complaint), joinedload(PerformanceRecord.job),
                 joinedload(PerformanceRecord.suggestion))
        .order_by(PerformanceRecord.quarter.desc(), PerformanceRecord.decided_dt.desc(), PerformanceRecord.id.desc())))
    for record in records:
        entry = line(record.quarter)
        if record.kind == PENALTY:
            entry.penalties += 1
        elif record.kind == REWARD:
            entry.rewards += 1
    return Scorecard(technician, sorted(lines.values(), key=lambda l: l.quarter, reverse=True), records)


# --- the supervisor dashboard ------------------------------------------------------------


def open_escalations_count() -> int:
    """Job escalations waiting for a supervisor's decision (policy 3.1)."""
    # count(*), not count(id): read from ix_escalations_open alone (index-only scan).
    return db.session.scalar(select(func.count()).select_from(Escalation).where(Escalation.decided_dt.is_(None))) or 0


def dashboard_counts(now: datetime | None = None) -> dict[str, int]:
    """Everything waiting for the supervisor, as counts (each opens its list)."""
    from ..complaints.operations import open_escalated_complaints_count, overdue_follow_ups_count
    from ..statistics.operations import open_quality_flags_count

    now = now or utcnow()
    return {
        "escalations": open_escalations_count(),
        "repeated_complaints": open_escalated_complaints_count(),
        "overdue_follow_ups": overdue_follow_ups_count(now),
        "quality_flags": open_quality_flags_count(),
        "performance_candidates": pending_candidates_count(now=now),
        "suggestions": awaiting_suggestions_count(),
    }
