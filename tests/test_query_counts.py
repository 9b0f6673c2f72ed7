"""Issue 7, query discipline: each main page runs as many SQL statements at 1,000 rows of what
it lists as at 10 (no statement per row: an N+1 shows up here as a difference).

The rows are made in bulk (one executemany per table, ids chosen by the test), the way a busy
centre's data looks: jobs in every state with their audit trail, escalations, diagnoses with parts and
photos, follow-up calls, complaints (some repeated and linked), claims with evidence and
questions, delivery inspections with their checks. Every shape of row is already there at 10
rows, so the only thing that changes between the two counts is how many rows there are. The
related records vary too (more customers, products and technicians at 1,000 than at 10): a lazy
load per row would otherwise hit the session's identity map and hide.
"""
from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

import pytest
from sqlalchemy import func, select, text

from fieldservice.blueprints.inspections import operations as inspection_ops
from fieldservice.extensions import db
from fieldservice.models import (
    AuditEvent,
    Claim,
    ClaimEvidence,
    ClaimMessage,
    Complaint,
    ComplaintLink,
    Customer,
    Diagnosis,
    Escalation,
    FaultCategory,
    FollowUp,
    Inspection,
    InspectionCheck,
    InspectionLine,
    Job,
    Photo,
    Product,
    ReplacedPart,
    User,
    utcnow,
)
from fieldservice.services.periods import iso_week, shift_week, week_name
from tests.conftest import count_queries
from tests.inspections.conftest import DEFAULT_ITEMS

SMALL, LARGE = 10, 1000

MODELS = ["PX-200 Press", "CV-50 Conveyor", "FL-8 Filler", "SP-9 Spinner", "LB-4 Labeller", "MX-40 Mixer"]
# An open job's place on the technician's phone and the board: its state and when it is due.
OPEN_SHAPES = [("assigned", "overdue"), ("new", "today"), ("en_route", "today"), ("assigned", "tomorrow"),
               ("on_site", "overdue"), ("assigned", "today"), ("escalated", "later"), ("new", "overdue"),
               ("assigned", "later"), ("en_route", "tomorrow")]
CLAIM_STATUSES = ["submitted", "resubmitted", "under_review", "info_requested", "submitted", "approved",
                  "rejected", "draft", "under_review", "resubmitted"]
CLAIM_TYPES = ["warranty_repair", "replacement", "refund", "transport_damage", "other"]
COMPLAINT_CATEGORIES = ["late_arrival", "poor_communication", "fault_not_fixed", "behaviour", "product_quality",
                        "inspection_negligence", "other"]
OUTCOMES = ["fixed", "fixed", "needs_parts", "fixed", "out_of_scope", "escalated"]
PRIORITIES = ["urgent", "high", "normal", "normal", "low"]


def bulk(model, rows: list[dict]) -> list[int]:
    """Insert rows in one executemany with ids chosen here (after the largest), as seed-bulk does:
    RETURNING in parameter order costs seconds per thousand rows on SQLite."""
    if not rows:
        return []
    table = model.__table__
    first = (db.session.scalar(select(func.max(table.c.id))) or 0) + 1
    ids = list(range(first, first + len(rows)))
    db.session.execute(table.insert(), [{**row, "id": i} for row, i in zip(rows, ids)])
    return ids


def _continue_sequences() -> None:
    """On PostgreSQL the id sequences go on after the ids chosen by `bulk` (later tests insert)."""
    if db.session.connection().dialect.name != "postgresql":
        return
    for table in db.metadata.sorted_tables:
        if "id" in table.c:
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                    f"(SELECT COALESCE(MAX(id), 1) FROM \"{table.name}\"))"))


@dataclass
class World:
    """The centre's staff and reference data, and the rows the pages are measured on."""

    now: datetime
    week: str  # last week: the ledger's, the weekly summary's and the fault statistics' period
    north: int
    south: int
    dispatcher: User
    reviewer: User
    supervisor: User
    technicians: list[User]  # north's
    south_technicians: list[User]
    faults: list[int]
    template_id: int
    checklist: list[dict]
    seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    job_id: int | None = None  # the job whose page is measured
    claim_id: int | None = None  # the claim whose page is measured
    inspection_id: int | None = None
    complaint_id: int | None = None


@pytest.fixture
def world(make, default_taxonomy) -> World:
    now = utcnow().replace(microsecond=0)
    north, south = make.region("north"), make.region("south")
    supervisor = make.user("supervisor")
    template = inspection_ops.new_template_version(
        [dict(item) for item in DEFAULT_ITEMS], supervisor)
    db.session.commit()
    faults = list(db.session.scalars(select(FaultCategory.id).where(FaultCategory.parent_id.is_not(None))
                                     .order_by(FaultCategory.id)))
    return World(
        now=now, week=shift_week(week_name(now), -1), north=north.id, south=south.id,
        dispatcher=make.user("dispatcher"), reviewer=make.user("reviewer"), supervisor=supervisor,
        technicians=[make.user("technician") for _ in range(8)],
        south_technicians=[make.user("technician", region="south") for _ in range(2)],
        faults=faults, template_id=template.id,
        checklist=[{"code": i.code, "label_en": i.label_en, "label_zh": i.label_zh, "kind": i.kind, "scope": i.scope}
                   for i in template.items],
    )


class Grower:
    """Adds `n` rows of each kind the pages list; every shape of row appears within 10."""

    def __init__(self, world: World, n: int):
        self.w = world
        self.n = n
        # At 10 rows two technicians and a handful of customers; at 1,000 all of them.
        self.techs = [t.id for t in world.technicians[: 2 if n <= SMALL else None]]
        self.people = self.techs + [world.dispatcher.id, world.reviewer.id, world.supervisor.id]
        self.events: list[dict] = []

    # --- customers ---------------------------------------------------------------------

    def customers(self, count: int, region: int) -> list[tuple[int, int, str]]:
        """`count` customers, each with one product: (customer id, product id, model)."""
        numbers = [next(self.w.seq) for _ in range(count)]
        ids = bulk(Customer, [{"name": f"Customer {k}", "phone": f"010 {k:08d}", "address": f"{k} Mill Road",
                               "region_id": region, "locale": "zh_CN", "created_dt": self.w.now - timedelta(days=400)}
                              for k in numbers])
        models = [MODELS[k % len(MODELS)] for k in numbers]
        products = bulk(Product, [{"customer_id": c, "model": m, "serial": f"SN-{k:07d}", "made_by_us": True}
                                  for c, m, k in zip(ids, models, numbers)])
        return list(zip(ids, products, models))

    # --- jobs ----------------------------------------------------------------------------

    def jobs(self, specs: list[dict]) -> list[int]:
        """Jobs in the given states with the timestamps, escalations and audit events they imply."""
        rows, paths = [], []
        for spec in specs:
            status, created = spec["status"], spec["created"]
            tech = spec.get("technician") if status not in ("new", "cancelled") else None
            steps = {"new": [], "cancelled": ["cancel"], "assigned": ["assign"],
                     "en_route": ["assign", "start_travel"], "on_site": ["assign", "start_travel", "check_in"],
                     "escalated": ["assign", "escalate"],
                     "resolved": ["assign", "start_travel", "check_in", "resolve"],
                     "closed": ["assign", "start_travel", "check_in", "resolve", "close"]}[status]
            at = {"assign": created + timedelta(minutes=20), "start_travel": created + timedelta(hours=1),
                  "check_in": created + timedelta(hours=2), "resolve": spec.get("resolved", created + timedelta(hours=3)),
                  "close": spec.get("resolved", created + timedelta(hours=3)) + timedelta(days=1),
                  "escalate": created + timedelta(hours=1), "cancel": created + timedelta(hours=1)}
            deadline = spec["deadline"]
            rows.append({
                "customer_id": spec["customer"], "product_id": spec.get("product"), "region_id": spec["region"],
                "request_type": spec.get("request_type", "fault_repair"),
                "priority": PRIORITIES[len(rows) % len(PRIORITIES)],
                "description": "Machine stops with error E42 after ten minutes.", "status": status,
                "version": 1 + len(steps), "created_by_id": self.w.dispatcher.id, "created_dt": created,
                "arrival_deadline_dt": deadline, "technician_id": tech,
                "assigned_by_id": self.w.dispatcher.id if tech else None,
                "assigned_dt": at["assign"] if tech else None,
                "en_route_dt": at["start_travel"] if "start_travel" in steps else None,
                "checked_in_dt": at["check_in"] if "check_in" in steps else None,
                "resolved_dt": at["resolve"] if "resolve" in steps else None,
                "closed_dt": at["close"] if "close" in steps else (at["cancel"] if status == "cancelled" else None),
                "late": "check_in" in steps and at["check_in"] > deadline,
                "resolution_note": "Repaired and tested." if "resolve" in steps else None,
                "status_before_escalation": "assigned" if status == "escalated" else None,
            })
            paths.append((steps, at, tech, created))
        ids = bulk(Job, rows)
        escalations = []
        for job_id, (steps, at, tech, created) in zip(ids, paths):
            state = "new"
            self.event("job", job_id, "created", None, "new", self.w.dispatcher.id, created)
            for step in steps:
                to = {"assign": "assigned", "start_travel": "en_route", "check_in": "on_site", "resolve": "resolved",
                      "close": "closed", "escalate": "escalated", "cancel": "cancelled"}[step]
                actor = self.w.dispatcher.id if step in ("assign", "close", "cancel") else tech
                self.event("job", job_id, step, state, to, actor, at[step])
                state = to
            if "escalate" in steps:
                escalations.append({"job_id": job_id, "raised_by_id": tech, "raised_dt": at["escalate"],
                                    "reason": "Needs a supervisor's approval for the cost."})
        bulk(Escalation, escalations)
        return ids

    def event(self, entity: str, entity_id: int, action: str, from_state, to_state, actor: int | None,
              when: datetime, reason: str | None = None) -> None:
        self.events.append({"entity_type": entity, "entity_id": entity_id, "action": action, "from_state": from_state,
                            "to_state": to_state, "reason": reason, "actor_id": actor, "created_dt": when})

    def photos(self, specs: list[dict]) -> list[int]:
        rows = []
        for spec in specs:
            key = uuid.uuid4().hex
            rows.append({"job_id": spec.get("job"), "diagnosis_id": spec.get("diagnosis"), "part_id": spec.get("part"),
                         "inspection_id": spec.get("inspection"), "inspection_check_id": spec.get("check"),
                         "caption": spec.get("caption", "Defective part"), "original_key": f"qc/{key}/original.jpg",
                         "display_key": f"qc/{key}/display.jpg", "thumb_key": f"qc/{key}/thumb.jpg",
                         "content_type": "image/jpeg", "sha256": key + key, "byte_size": 120_000, "width": 1600,
                         "height": 1200, "uploaded_by_id": spec["by"], "uploaded_dt": spec["when"], "status": "stored"})
        return bulk(Photo, rows)

    # --- what a page lists -----------------------------------------------------------------

    def open_jobs(self) -> None:
        """n open jobs due around now (the queue, the board, the technicians' phones)."""
        now, n = self.w.now, self.n
        customers = self.customers(max(2, n // 2), self.w.north)
        due = {"overdue": now - timedelta(hours=3), "today": now.replace(hour=23, minute=0, second=0),
               "tomorrow": now + timedelta(days=1), "later": now + timedelta(days=4)}
        if due["today"] <= now:  # in the last hour of the day "today" is already past
            due["today"] = now + timedelta(minutes=30)
        specs = []
        for i in range(n):
            status, when = OPEN_SHAPES[i % len(OPEN_SHAPES)]
            customer, product, _ = customers[i % len(customers)]
            specs.append({"status": status, "customer": customer, "product": product, "region": self.w.north,
                          "technician": self.techs[i % len(self.techs)], "deadline": due[when] + timedelta(minutes=i % 50),
                          "created": now - timedelta(hours=5, minutes=i % 60),
                          "request_type": "fault_repair" if i % 4 else "inquiry"})
        self.jobs(specs)

    def resolved_jobs(self) -> list[dict]:
        """n resolved or closed repairs of last week with their diagnosis (ledger rows), parts,
        photos and follow-up calls; a tenth in the south."""
        w, n = self.w, self.n
        start = iso_week(w.week).start_dt
        north = self.customers(max(2, n // 2), w.north)
        south = self.customers(max(1, n // 10), w.south)
        done = []
        specs = []
        for i in range(n):
            in_south = i % 10 == 9
            customer, product, model = (south if in_south else north)[i % len(south if in_south else north)]
            tech = (w.south_technicians[i % 2].id if in_south else self.techs[i % len(self.techs)])
            created = start + timedelta(hours=2 + (i * 157) % 150)
            spec = {"status": "closed" if i % 3 else "resolved", "customer": customer, "product": product,
                    "region": w.south if in_south else w.north, "technician": tech, "created": created,
                    "deadline": created + timedelta(hours=4), "resolved": created + timedelta(hours=3),
                    "model": model}
            specs.append(spec)
        ids = self.jobs(specs)
        diagnoses = []
        for i, (job_id, spec) in enumerate(zip(ids, specs)):
            spec["id"] = job_id
            fault = w.faults[i % len(w.faults)]
            versions = 2 if i % 7 == 3 else 1
            for version in range(1, versions + 1):
                diagnoses.append({
                    "job_id": job_id, "version": version, "status": "submitted" if version == versions else "superseded",
                    "technician_id": spec["technician"], "symptom": "Belt slips under load.",
                    "fault_category_id": fault, "root_cause": "Worn part replaced.",
                    "actions_taken": "Replaced the faulty part and tested for 30 minutes.",
                    "guidance": "Clean the sensor weekly.", "outcome": OUTCOMES[i % len(OUTCOMES)],
                    "customer_explanation": "", "contact_name": "Site manager",
                    "created_dt": spec["created"] + timedelta(hours=2),
                    "draft_saved_dt": spec["resolved"],
                    "submitted_dt": spec["resolved"] + timedelta(minutes=version - 1),
                    "time_on_site_seconds": 3600,
                })
            done.append(spec)
        diagnosis_ids = bulk(Diagnosis, diagnoses)
        current = {}
        for row, diagnosis_id in zip(diagnoses, diagnosis_ids):
            if row["status"] == "submitted":
                current[row["job_id"]] = diagnosis_id
            self.event("diagnosis", diagnosis_id, "submit", "draft", "submitted", row["technician_id"],
                       row["submitted_dt"])
        parts = []
        for i, spec in enumerate(done):
            spec["diagnosis"] = current[spec["id"]]
            for position in range((0, 1, 2, 1)[i % 4]):  # parts replaced
                parts.append({"diagnosis_id": spec["diagnosis"], "position": position, "part_number": "BT-12",
                              "description": "Drive belt", "quantity": 1, "faulty_serial": f"F{i:07d}{position}",
                              "replacement_serial": f"R{i:07d}{position}", "kept_as_evidence": position == 0})
        part_ids = bulk(ReplacedPart, parts)
        part_of = {}
        for row, part_id in zip(parts, part_ids):
            part_of.setdefault(row["diagnosis_id"], part_id)
        self.photos([{"job": s["id"], "diagnosis": s["diagnosis"], "part": part_of.get(s["diagnosis"]), "by": s["technician"],
                      "when": s["resolved"] - timedelta(minutes=10)} for i, s in enumerate(done) if i % 3 == 0])
        follow_ups = []
        for i, spec in enumerate(done):
            closed = spec["status"] == "closed"
            follow_ups.append({"job_id": spec["id"], "region_id": spec["region"], "status": "done" if closed else "pending",
                               "created_dt": spec["resolved"], "due_dt": spec["resolved"] + timedelta(days=2 + i % 10),
                               "attempts": 1 if closed else 0, "version": 2 if closed else 1,
                               "outcome": "reached" if closed else None,
                               "satisfaction": 1 + i % 5 if closed else None, "comments": "",
                               "called_by_id": w.dispatcher.id if closed else None,
                               "called_dt": spec["resolved"] + timedelta(days=1) if closed else None})
        for spec, follow_up_id in zip(done, bulk(FollowUp, follow_ups)):
            spec["follow_up"] = follow_up_id
        return done

    def claims(self, jobs: list[dict]) -> list[int]:
        """A claim on each of these repairs: evidence photos, the reviewer's questions, decisions."""
        w = self.w
        rows = []
        for i, spec in enumerate(jobs):
            status = CLAIM_STATUSES[i % len(CLAIM_STATUSES)]
            opened = spec["resolved"] + timedelta(hours=1)
            decided = status in ("approved", "rejected")
            rows.append({
                "claim_type": CLAIM_TYPES[i % len(CLAIM_TYPES)], "status": status, "version": 3,
                "job_id": spec["id"], "diagnosis_id": spec["diagnosis"], "customer_id": spec["customer"],
                "region_id": spec["region"], "product_id": spec["product"], "product_model": spec["model"],
                "serial": f"SN-{i:07d}", "amount_claimed": 1200 + i, "currency": "CNY",
                "description": "The part failed within the warranty period.",
                "part_whereabouts": ["at_customer", "sent_to_centre", "received_at_centre"][i % 3],
                "opened_by_id": spec["technician"], "opened_dt": opened,
                "submitted_dt": None if status == "draft" else opened + timedelta(hours=2, minutes=i % 120),
                "decided_dt": opened + timedelta(days=2) if decided else None,
                "decision_reason": "Defect confirmed." if decided else "",
                "approved_amount": 1000 if status == "approved" else None,
                "appraisal": "manufacturing_defect" if decided or status == "under_review" else None,
                "appraisal_notes": "Seen on the photos." if decided else "",
                "appraised_by_id": w.reviewer.id if decided or status == "under_review" else None,
            })
        ids = bulk(Claim, rows)
        photos = []
        for claim_id, row in zip(ids, rows):
            for k in range(1 + claim_id % 2):
                photos.append({"job": row["job_id"], "diagnosis": row["diagnosis_id"], "by": row["opened_by_id"],
                               "when": row["opened_dt"] - timedelta(minutes=30 - k), "caption": f"Evidence {k + 1}",
                               "claim": claim_id, "status": row["status"]})
        evidence = [{"claim_id": p["claim"], "photo_id": photo_id, "added_by_id": p["by"], "added_dt": p["when"],
                     "added_in_status": "draft"} for p, photo_id in zip(photos, self.photos(photos))]
        bulk(ClaimEvidence, evidence)
        messages = []
        for claim_id, row in zip(ids, rows):
            if row["status"] in ("info_requested", "resubmitted"):
                asked = row["submitted_dt"] + timedelta(hours=3)
                messages.append({"claim_id": claim_id, "author_id": w.reviewer.id, "kind": "question",
                                 "body": "Please add a photo of the serial plate.", "created_dt": asked})
                if row["status"] == "resubmitted":
                    messages.append({"claim_id": claim_id, "author_id": row["opened_by_id"], "kind": "answer",
                                     "body": "Added.", "created_dt": asked + timedelta(hours=1)})
            if row["submitted_dt"]:
                self.event("claim", claim_id, "submit", "draft", "submitted", row["opened_by_id"], row["submitted_dt"])
        bulk(ClaimMessage, messages)
        return ids

    def complaints(self, jobs: list[dict]) -> list[int]:
        """A complaint about each of these jobs; every fourth repeats the one before (escalated)."""
        w = self.w
        rows, repeats = [], []
        for i, spec in enumerate(jobs):
            repeat = i % 4 == 3
            # A repeat is about the same customer, product and fault as the complaint before it.
            base = jobs[i - 1] if repeat else spec
            logged = spec["resolved"] + timedelta(days=1, minutes=i)
            closed = i % 5 == 4
            rows.append({
                "customer_id": base["customer"], "region_id": base["region"], "job_id": base["id"],
                "technician_id": base["technician"], "product_id": base["product"],
                "fault_category_id": w.faults[(i - 1 if repeat else i) % len(w.faults)],
                "category": COMPLAINT_CATEGORIES[(i - 1 if repeat else i) % len(COMPLAINT_CATEGORIES)],
                "description": "The fault came back two days after the visit.",
                "status": "closed" if closed else "open", "version": 2 if closed else 1,
                "logged_by_id": w.dispatcher.id, "logged_dt": logged,
                "escalated": repeat, "escalated_dt": logged if repeat else None,
                "follow_up_id": base.get("follow_up") if i % 6 == 0 else None,
                "answer": "Replaced the part free of charge." if closed else None,
                "closed_by_id": w.dispatcher.id if closed else None,
                "closed_dt": logged + timedelta(hours=5) if closed else None,
            })
            repeats.append(repeat)
        ids = bulk(Complaint, rows)
        links = [{"complaint_id": ids[i], "earlier_id": ids[i - 1]} for i, repeat in enumerate(repeats) if repeat]
        if links:
            db.session.execute(ComplaintLink.__table__.insert(), links)
        for complaint_id, row in zip(ids, rows):
            self.event("complaint", complaint_id, "log", None, "open", w.dispatcher.id, row["logged_dt"])
        return ids

    def inspections(self) -> list[int]:
        """n delivery inspections: half at customers' sites (each from its job), half on receipt
        at the centre; most passed, some failed (with a photo of the damage), a few drafts."""
        w, n = self.w, self.n
        start = iso_week(w.week).start_dt
        customers = self.customers(max(2, n // 4), w.north)
        site = [i for i in range(n) if i % 2 == 0]
        specs = [{"status": "resolved", "customer": customers[i % len(customers)][0], "region": w.north,
                  "technician": self.techs[i % len(self.techs)], "created": start + timedelta(hours=1 + i % 120),
                  "deadline": start + timedelta(hours=5 + i % 120), "request_type": "delivery_inspection"}
                 for i in site]
        job_of = dict(zip(site, self.jobs(specs)))
        rows = []
        for i in range(n):
            state = ["passed", "passed", "failed", "draft", "passed"][i % 5]
            started = start + timedelta(hours=3 + i % 120)
            rows.append({
                "kind": "site_delivery" if i in job_of else "centre_receipt", "job_id": job_of.get(i),
                "customer_id": customers[i % len(customers)][0], "order_reference": f"PO-2026-{i:07d}",
                "template_id": w.template_id, "inspector_id": self.techs[i % len(self.techs)],
                "status": "draft" if state == "draft" else "submitted",
                "result": None if state == "draft" else state, "started_dt": started,
                "draft_saved_dt": started + timedelta(minutes=10),
                "submitted_dt": None if state == "draft" else started + timedelta(minutes=40), "notes": "",
            })
        ids = bulk(Inspection, rows)
        lines, line_of = [], []
        for inspection_id, i in zip(ids, range(n)):
            for position in range(1 + i % 2):
                lines.append({"inspection_id": inspection_id, "position": position,
                              "product_model": MODELS[(i + position) % len(MODELS)], "expected_quantity": 2})
                line_of.append(i)
        line_ids = bulk(InspectionLine, lines)
        checks, failed_checks = [], []
        lines_by_inspection: dict[int, list[int]] = {}
        for row, line_id in zip(lines, line_ids):
            lines_by_inspection.setdefault(row["inspection_id"], []).append(line_id)
        for inspection_id, row in zip(ids, rows):
            position = 0
            for line_id in lines_by_inspection[inspection_id] + [None]:
                for item in w.checklist:
                    if (item["scope"] == "line") != (line_id is not None):
                        continue
                    fails = row["result"] == "failed" and position == 0
                    quantity = item["kind"] == "quantity"
                    checks.append({"inspection_id": inspection_id, "line_id": line_id, "position": position,
                                   "item_code": item["code"], "label_en": item["label_en"],
                                   "label_zh": item["label_zh"], "kind": item["kind"],
                                   "answer": ("fail" if fails else "pass") if row["result"] else None,
                                   "note": "Crate crushed at one corner." if fails else "",
                                   "expected_quantity": 2 if quantity else None,
                                   "counted_quantity": 2 if quantity and row["result"] else None})
                    failed_checks.append(fails)
                    position += 1
        check_ids = bulk(InspectionCheck, checks)
        self.photos([{"inspection": c["inspection_id"], "check": check_id, "by": w.technicians[0].id,
                      "when": w.now - timedelta(days=3), "caption": "Damage"}
                     for c, check_id, fails in zip(checks, check_ids, failed_checks) if fails])
        for inspection_id, row in zip(ids, rows):
            if row["submitted_dt"]:
                self.event("inspection", inspection_id, "submit", "draft", "submitted", row["inspector_id"],
                           row["submitted_dt"])
        return ids

    def finish(self) -> None:
        bulk(AuditEvent, self.events)
        self.events = []
        _continue_sequences()
        db.session.commit()


EVERYTHING = frozenset({"open", "repairs", "claims", "complaints", "inspections"})


def grow(world: World, n: int, kinds: frozenset = EVERYTHING) -> None:
    """Add n rows of each kind: open jobs, repairs (ledger rows with their follow-up calls),
    claims and complaints (about those repairs), inspections. The first call picks the job,
    claim, complaint and inspection whose own pages are measured; later calls give them more."""
    g = Grower(world, n)
    if "open" in kinds:
        g.open_jobs()
    repairs = g.resolved_jobs() if kinds & {"repairs", "claims", "complaints"} else []
    claims = g.claims(repairs) if "claims" in kinds else []
    complaints = g.complaints(repairs) if "complaints" in kinds else []
    inspections = g.inspections() if "inspections" in kinds else []
    first = world.job_id is None and world.inspection_id is None
    if first:
        # A resolved repair whose diagnosis was corrected once, with a part and a photo; its claim
        # waits for the claimant's answer (who may add more of the job's photos).
        world.job_id = repairs[3]["id"] if repairs else None
        world.claim_id = claims[3] if claims else None
        world.complaint_id = complaints[3] if complaints else None  # a repeat of complaints[2]
        world.inspection_id = inspections[2] if inspections else None  # a failed one
    else:
        _more_on_the_measured_records(g, n)
    g.finish()


def _more_on_the_measured_records(g: Grower, n: int) -> None:
    """The measured job, claim, complaint and inspection get more of their own (photos, events,
    messages, claims, complaints, lines and checks) from more people, so a query per row of
    them would show; so does the claim's customer (jobs and claims: the reviewer's history)."""
    w = g.w
    many = max(3, n // 50)
    uploaders = [t.id for t in w.technicians] + [w.dispatcher.id]
    if w.job_id is not None:
        job = db.session.get(Job, w.job_id)
        photo_ids = g.photos([{"job": job.id, "by": uploaders[k % len(uploaders)], "when": w.now - timedelta(days=2),
                               "caption": f"Site photo {k}"} for k in range(many)])
        for k in range(many):
            g.event("job", job.id, "check_in", "on_site", "on_site", g.people[k % len(g.people)],
                    w.now - timedelta(days=2, minutes=k), reason="Visit again")
        subject = {"id": job.id, "status": "closed", "customer": job.customer_id, "product": job.product_id,
                   "region": job.region_id, "technician": job.technician_id, "model": "PX-200 Press",
                   "resolved": job.resolved_dt, "diagnosis": None}
        if w.claim_id is not None:
            claim = db.session.get(Claim, w.claim_id)
            bulk(ClaimEvidence, [{"claim_id": claim.id, "photo_id": p, "added_by_id": uploaders[k % len(uploaders)],
                                  "added_dt": w.now - timedelta(days=2), "added_in_status": "info_requested"}
                                 for k, p in enumerate(photo_ids) if k % 2])  # the others: candidates
            bulk(ClaimMessage, [{"claim_id": claim.id, "author_id": g.people[k % len(g.people)],
                                 "kind": "question" if k % 2 == 0 else "answer", "body": f"Message {k}",
                                 "created_dt": w.now - timedelta(days=1, minutes=-k)} for k in range(many)])
            # The same customer's other jobs and claims, and more claims on the job itself.
            extra = [dict(subject, technician=g.techs[k % len(g.techs)],
                          created=w.now - timedelta(days=20 + k), deadline=w.now - timedelta(days=19 + k),
                          resolved=w.now - timedelta(days=19 + k)) for k in range(many)]
            for spec, job_id in zip(extra, g.jobs(extra)):
                spec["id"] = job_id
            g.claims(extra + [subject] * many)
        if w.complaint_id is not None:
            g.complaints([subject] * many)
    if w.complaint_id is not None:
        complaint = db.session.get(Complaint, w.complaint_id)
        repeats = [{"id": complaint.job_id, "customer": complaint.customer_id, "region": complaint.region_id,
                    "technician": g.techs[k % len(g.techs)], "product": complaint.product_id,
                    "resolved": complaint.logged_dt + timedelta(days=k)} for k in range(many)]
        others = g.complaints(repeats)
        later, earlier = others[: many // 2], others[many // 2:]
        db.session.execute(ComplaintLink.__table__.insert(),
                           [{"complaint_id": c, "earlier_id": complaint.id} for c in later]
                           + [{"complaint_id": complaint.id, "earlier_id": c} for c in earlier])
        for k in range(many):
            g.event("complaint", complaint.id, "escalate", "open", "open", g.people[k % len(g.people)],
                    complaint.logged_dt + timedelta(hours=k), reason="Repeated")
    if w.inspection_id is not None:
        inspection = db.session.get(Inspection, w.inspection_id)
        lines = bulk(InspectionLine, [{"inspection_id": inspection.id, "position": 10 + k,
                                       "product_model": MODELS[k % len(MODELS)], "expected_quantity": 3}
                                      for k in range(many)])
        items = [i for i in w.checklist if i["scope"] == "line"]
        checks = bulk(InspectionCheck, [
            {"inspection_id": inspection.id, "line_id": line_id, "position": 100 + k * len(items) + j,
             "item_code": item["code"], "label_en": item["label_en"], "label_zh": item["label_zh"],
             "kind": item["kind"], "answer": "fail" if j == 0 else "pass", "note": "Crushed" if j == 0 else "",
             "expected_quantity": 3 if item["kind"] == "quantity" else None,
             "counted_quantity": 3 if item["kind"] == "quantity" else None}
            for k, line_id in enumerate(lines) for j, item in enumerate(items)])
        g.photos([{"inspection": inspection.id, "check": check_id, "by": uploaders[k % len(uploaders)],
                   "when": w.now - timedelta(days=3), "caption": "Damage"}
                  for k, check_id in enumerate(checks[:: len(items)])])
        for k in range(many):
            g.event("inspection", inspection.id, "correct", "submitted", "submitted", g.people[k % len(g.people)],
                    w.now - timedelta(days=3, minutes=-k))


# --- the pages ---------------------------------------------------------------------------------


@dataclass
class Page:
    name: str
    viewer: str  # who opens it (see _viewer)
    url: Callable[[World], str]
    kinds: frozenset  # the rows it lists (see grow)


def _week_range(w: World) -> str:
    period = iso_week(w.week)
    return f"from={period.first_day.isoformat()}&to={period.last_day.isoformat()}"


OPEN, REPAIRS = frozenset({"open"}), frozenset({"repairs"})
CLAIMS, COMPLAINTS = frozenset({"claims"}), frozenset({"complaints"})
INSPECTIONS = frozenset({"inspections"})

PAGES = [
    Page("my_jobs", "technician", lambda w: "/my-jobs", OPEN | REPAIRS),
    Page("job_page_dispatcher", "dispatcher", lambda w: f"/jobs/{w.job_id}", CLAIMS | COMPLAINTS),
    Page("job_page_technician", "job_technician", lambda w: f"/jobs/{w.job_id}", CLAIMS | COMPLAINTS),
    Page("dispatch_board", "dispatcher", lambda w: f"/dispatch/board?region={w.north}", OPEN),
    Page("unassigned_queue", "dispatcher", lambda w: "/dispatch/queue", OPEN),
    Page("jobs_list", "dispatcher", lambda w: "/jobs", OPEN | REPAIRS),
    Page("escalations", "supervisor", lambda w: "/escalations", OPEN),
    Page("claim_review_queue", "reviewer", lambda w: "/claims", CLAIMS),
    Page("claims_of_a_technician", "technician", lambda w: "/claims?status=all", CLAIMS),
    Page("claim_page_reviewer", "reviewer", lambda w: f"/claims/{w.claim_id}", CLAIMS),
    Page("claim_page_claimant", "claim_opener", lambda w: f"/claims/{w.claim_id}", CLAIMS),
    Page("ledger_filtered", "dispatcher", lambda w: f"/ledger?{_week_range(w)}&region={w.north}", REPAIRS),
    Page("ledger_by_fault_group", "reviewer", lambda w: f"/ledger?{_week_range(w)}&fault={_fault_group(w)}",
         REPAIRS),
    Page("weekly_summary", "dispatcher", lambda w: f"/statistics/weekly?week={w.week}", EVERYTHING),
    Page("fault_statistics", "dispatcher",
         lambda w: f"/statistics/faults?from={shift_week(w.week, -7)}&to={w.week}", EVERYTHING),
    Page("supervisor_dashboard", "supervisor", lambda w: "/dashboard", EVERYTHING),
    Page("complaints", "dispatcher", lambda w: "/complaints?status=all", COMPLAINTS),
    Page("repeated_complaints", "supervisor", lambda w: "/complaints/escalated", COMPLAINTS),
    Page("complaint_page", "dispatcher", lambda w: f"/complaints/{w.complaint_id}", COMPLAINTS),
    Page("follow_ups", "dispatcher", lambda w: "/follow-ups", REPAIRS),
    Page("inspections", "dispatcher", lambda w: "/inspections", INSPECTIONS),
    Page("inspection_page", "dispatcher", lambda w: f"/inspections/{w.inspection_id}", INSPECTIONS),
    Page("inspection_failures", "supervisor", lambda w: "/inspections/failures", INSPECTIONS),
]


def _fault_group(w: World) -> int:
    return db.session.scalar(select(FaultCategory.parent_id).where(FaultCategory.id == w.faults[0]))


def _viewer(w: World, name: str) -> User:
    if name == "technician":
        return w.technicians[0]
    if name == "job_technician":
        return db.session.get(Job, w.job_id).technician
    if name == "claim_opener":
        return db.session.get(Claim, w.claim_id).opened_by
    return getattr(w, name)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_statements_per_page_are_the_same_at_10_and_1000_rows(world, login, page):
    grow(world, SMALL, page.kinds)
    client = login(_viewer(world, page.viewer))
    url = page.url(world)
    few = count_queries(client, url)
    grow(world, LARGE - SMALL, page.kinds)
    many = count_queries(client, url)
    assert many == few, f"{url}: {few} statements at {SMALL} rows, {many} at {LARGE}"
