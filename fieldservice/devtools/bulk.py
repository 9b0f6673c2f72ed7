"""`flask seed-bulk`: a busy service centre's year of data, generated fast (issue 7).

Regions of ~50 technicians, dispatchers, reviewers and supervisors; customers and their
products; jobs in every state with arrival deadlines, assignments and late arrivals; submitted
diagnoses with fault categories and replaced parts (a few corrected); delivery inspections
with their checks; claims with photo evidence, questions and decisions; complaints (some
repeated, escalated and linked to the earlier one); follow-up calls (done with a satisfaction,
pending, overdue); escalations; the jobs' audit trail; suggestions; and the quality flags of
every week (statistics.operations.refresh_quality_flags).

Speed: rows are generated as plain tuples with ids chosen here (after the current maximum), so
children reference parents without asking the database. On PostgreSQL they go in with COPY
(an in-memory TSV buffer per table, in chunks, sent by a background thread while the next chunk
is generated), with the foreign keys and non-unique indexes set aside and rebuilt after the load
(as pg_restore does); on SQLite with executemany. Everything runs in one transaction, parents
before children; the id sequences are set afterwards, and the command ends with VACUUM (ANALYZE).
1,000,000 jobs take about 4 minutes on 2 cores (bench/RESULTS.md).

Photos: rows point to a handful of shared display/thumbnail objects under ``bulk/shared/``,
stored once when an object store is configured. Each row still has its own ``original_key``
(the column is unique), and those originals are not stored: opening an original of a bulk photo
(or checking a claim's evidence against it) reports it missing.

Not for production databases: it refuses a database that already has jobs unless --append.
"""
from __future__ import annotations

import importlib.util
import io
import queue
import random
import threading
import time
from bisect import bisect
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Callable

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select, text, update
from werkzeug.security import generate_password_hash

from ..extensions import db
from ..models import ChecklistTemplate, FaultCategory, Job, QualityFlag, utcnow

BULK_PASSWORD = "bulk-pass-1234"  # noqa: S105 - generated test data only, printed by the command
TECHNICIANS_PER_REGION = 50
SHARED_PHOTOS = 6

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"

# Product models and the faults each tends to have (fault codes of the default taxonomy).
PRODUCT_MODELS = [
    ("PX-200 Press", ["jam", "alarm_code", "drive_belt", "wear"]),
    ("PX-300 Press", ["jam", "control_board", "wear"]),
    ("CV-50 Conveyor", ["drive_belt", "bearing", "motor", "wear"]),
    ("CV-80 Conveyor", ["drive_belt", "motor", "sensor"]),
    ("FL-8 Filler", ["leak", "sensor", "settings"]),
    ("FL-12 Filler", ["leak", "firmware", "settings"]),
    ("SP-9 Spinner", ["vibration_noise", "bearing", "control_board"]),
    ("SP-11 Spinner", ["vibration_noise", "motor", "bearing"]),
    ("LB-4 Labeller", ["jam", "sensor", "alarm_code"]),
    ("LB-6 Labeller", ["settings", "firmware", "jam"]),
    ("WR-20 Wrapper", ["jam", "wiring", "drive_belt"]),
    ("WR-30 Wrapper", ["power_supply", "jam", "wear"]),
    ("CP-5 Compressor", ["leak", "motor", "power_supply"]),
    ("CP-7 Compressor", ["vibration_noise", "leak", "maintenance"]),
    ("MX-40 Mixer", ["bearing", "motor", "wear"]),
    ("MX-60 Mixer", ["power_supply", "wiring", "operation"]),
    ("HT-3 Heat sealer", ["control_board", "power_supply", "sensor"]),
    ("HT-5 Heat sealer", ["settings", "wiring", "alarm_code"]),
    ("PK-10 Palletiser", ["sensor", "drive_belt", "installation"]),
    ("PK-12 Palletiser", ["firmware", "motor", "operation"]),
]
SYMPTOMS = [
    "Machine stops with error E42 after ten minutes.", "Belt slips under load.",
    "Grinding noise from the drive end.", "Nozzle drips after each fill.",
    "Controller resets at random.", "Loud vibration at high speed.", "Output uneven, guide rails worn.",
    "Level sensor reads wrong.", "Motor trips after a few minutes.", "Display stays dark after power on.",
    "设备运行十分钟后报警停机。", "皮带打滑，负载时更明显。",
]
ROOT_CAUSES = [
    "Worn part replaced.", "Loose connector on the control board.", "Sensor out of calibration.",
    "Seal worn through.", "Wrong parameters after an operator change.", "Bearing dry, no grease.",
    "传感器积尘导致误报。",
]
ACTIONS = ["Replaced the faulty part and tested for 30 minutes.", "Cleaned, adjusted and tested.",
           "Updated the firmware and reset the parameters.", "Tightened the connectors and tested.",
           "更换故障部件并试机。"]
GUIDANCE = ["Showed the operator the daily checks.", "Clean the sensor weekly.",
            "Grease the bearings every 500 hours.", "请按手册每周清洁。"]
EXPLANATIONS = ["", "", "", "The unit is not one of ours; we can recommend the maker's service.",
                "The request is outside the service contract."]
CONTACTS = ["Site manager", "Shift leader", "Maintenance lead", "王经理", "李工", "张主任"]
PARTS = [("RL-88", "Feed roller"), ("BT-12", "Drive belt"), ("BR-6205", "Bearing 6205"),
         ("SN-4", "Level sensor"), ("CB-200", "Control board"), ("SL-8", "Nozzle seal"),
         ("PS-24", "Power supply 24 V"), ("MT-1.5", "Motor 1.5 kW")]
RESOLUTION_NOTES = ["Repaired and tested.", "Part replaced; running normally.", "Adjusted; customer satisfied.",
                    "已修复并试机。"]
FOLLOW_UP_COMMENTS = ["", "", "Customer satisfied.", "Running fine since the visit.",
                      "Unhappy with the wait.", "客户满意。"]
COMPLAINT_TEXTS = {
    "late_arrival": "The technician came hours after the promised time.",
    "poor_communication": "Nobody told the site manager what was done or what to watch.",
    "fault_not_fixed": "The fault came back two days after the visit.",
    "behaviour": "The technician left the area dirty.",
    "product_quality": "The same part fails again and again.",
    "inspection_negligence": "The delivery inspection missed a crushed crate.",
    "other": "The customer wants a call from the manager.",
}
ANSWERS = ["Apologised; sent the technician back the next day.", "Explained the repair to the site manager.",
           "Replaced the part free of charge.", "已致电客户说明情况并道歉。"]
DESCRIPTIONS = {
    "fault_repair": SYMPTOMS,
    "complaint": ["Customer calls to complain about the last visit."],
    "claim": ["Warranty claim: the part failed within the warranty period."],
    "delivery_inspection": ["New machines delivered; inspect on arrival.", "Three units delivered today."],
    "centre_inspection": ["Goods received at the centre; inspect the consignment."],
    "inquiry": ["Asks for the maintenance schedule.", "Asks for a quote for a spare part."],
    "inspection_follow_up": ["Failed delivery inspection: arrange replacement or return."],
}
CITIES = ["Beijing", "Tianjin", "Shijiazhuang", "Guangzhou", "Shenzhen", "Shanghai", "Hangzhou", "Chengdu",
          "Wuhan", "Xi'an", "北京", "上海", "广州", "深圳"]
TRADES = ["Printing", "Logistics", "Textile", "Foods", "Electronics", "Packaging", "Beverages", "Pharma",
          "印务", "物流", "食品", "包装"]
FORMS = ["Co.", "Ltd.", "Works", "Mill", "Group", "有限公司"]

# (value, weight) tables.
REQUEST_TYPES = [("fault_repair", 70), ("complaint", 3), ("claim", 4), ("delivery_inspection", 8),
                 ("centre_inspection", 3), ("inquiry", 10), ("inspection_follow_up", 2)]
PRIORITIES = [("urgent", 10), ("high", 25), ("normal", 50), ("low", 15)]
STATES = ("new", "assigned", "en_route", "on_site", "escalated", "resolved", "closed", "cancelled")
# The job's state by its age (hours): young jobs are still open, old ones closed.
STATE_BY_AGE = [
    (4, [("new", 35), ("assigned", 30), ("en_route", 10), ("on_site", 10), ("escalated", 2), ("resolved", 8),
         ("cancelled", 3), ("closed", 2)]),
    (24, [("new", 6), ("assigned", 20), ("en_route", 7), ("on_site", 8), ("escalated", 2), ("resolved", 40),
          ("cancelled", 3), ("closed", 14)]),
    (96, [("new", 1), ("assigned", 3), ("en_route", 1), ("on_site", 1), ("escalated", 1), ("resolved", 30),
          ("cancelled", 3), ("closed", 60)]),
    (None, [("escalated", 0.05), ("resolved", 1), ("cancelled", 3), ("closed", 95.95)]),
]
OUTCOMES = [("fixed", 85), ("needs_parts", 8), ("escalated", 2), ("out_of_scope", 5)]
SATISFACTION = [(5, 45), (4, 30), (3, 13), (2, 7), (1, 5)]
CLAIM_TYPES = [("warranty_repair", 50), ("replacement", 20), ("refund", 5), ("transport_damage", 15), ("other", 10)]
APPRAISALS = [("manufacturing_defect", 45), ("misuse", 15), ("transport_damage", 15), ("normal_wear", 20),
              ("undetermined", 5)]


class _Choice:
    """Weighted choice with one random() call and a bisect (random.choices is slower per call)."""

    def __init__(self, rng: random.Random, pairs):
        self.rng = rng
        self.values = [v for v, _ in pairs]
        total = float(sum(w for _, w in pairs))
        acc, self.cum = 0.0, []
        for _, w in pairs:
            acc += w
            self.cum.append(acc / total)
        self.cum[-1] = 1.0

    def __call__(self):
        return self.values[bisect(self.cum, self.rng.random())]


# --- writing rows ----------------------------------------------------------------------------

_NULL = "\\N"


def _pg_formatter(table, defaults: dict) -> Callable[[dict], str]:
    """A function turning a row (dict) into one line of PostgreSQL's COPY text format.

    Compiled per table from its column types: one f-string per row instead of a call per value.
    Strings are not escaped: every string written here comes from this module's pools and
    numbers, which hold no tab, newline or backslash (checked by _check_pools at import).
    """
    lines, parts = [], []
    for n, column in enumerate(table.columns):
        try:
            kind = column.type.python_type
        except NotImplementedError:
            kind = str
        default = defaults.get(column.name)
        lines.append(f"    a{n} = g({column.name!r}, {default!r})")
        if kind is datetime or kind is date:
            parts.append(f"{{N if a{n} is None else a{n}.isoformat()}}")
        elif kind is bool:
            parts.append(f"{{N if a{n} is None else (T if a{n} else F)}}")
        else:
            parts.append(f"{{N if a{n} is None else a{n}}}")
    source = "def fmt(v):\n    g = v.get\n" + "\n".join(lines) + "\n    return f'" + "\\t".join(parts) + "'\n"
    namespace = {"N": _NULL, "T": "t", "F": "f", "Decimal": Decimal, "date": date}
    exec(compile(source, f"<copy format {table.name}>", "exec"), namespace)  # noqa: S102 - our own columns
    return namespace["fmt"]


def _check_pools() -> None:
    """The text pools must be safe to write unescaped in COPY's text format."""
    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.items():
                yield from strings(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from strings(item)

    for name, value in list(globals().items()):
        if name.isupper() and not name.startswith("_"):
            for string in strings(value):
                if any(ch in string for ch in "\t\n\r\\"):
                    raise ValueError(f"{name} holds a string COPY would need escaped: {string!r}")


class RowWriter:
    """Buffers rows per table and writes them in bulk, parents before children.

    PostgreSQL: COPY ... FROM STDIN from an in-memory TSV buffer, sent by a background thread
    while the next chunk is generated (the server ingests on one core, Python generates on the
    other); other databases: executemany. Everything goes through the session's connection, in
    its transaction: nothing else may use that connection until close().
    """

    def __init__(self, chunk_rows: int = 250_000):
        self.connection = db.session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"
        self.tables = {t.name: t for t in db.metadata.sorted_tables}
        self.order = [t.name for t in db.metadata.sorted_tables]
        self.columns = {name: [c.name for c in t.columns] for name, t in self.tables.items()}
        self.defaults = {name: self._scalar_defaults(t) for name, t in self.tables.items()}
        self.formatters = {name: _pg_formatter(t, self.defaults[name]) for name, t in self.tables.items()} \
            if self.postgres else {}
        self.buffers: dict[str, list] = {name: [] for name in self.order}
        self.checked: set[str] = set()
        self.counts: Counter = Counter()
        self.pending = 0
        self.chunk_rows = chunk_rows
        self.next_ids = {}
        for name, table in self.tables.items():
            if "id" in table.c:
                self.next_ids[name] = (db.session.scalar(select(func.max(table.c.id))) or 0) + 1
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._foreign_keys: list = []
        self._indexes: list = []
        if self.postgres:
            self._suspend_constraints()
            self._queue = queue.Queue(maxsize=1)
            self._thread = threading.Thread(target=self._copy_loop, name="seed-bulk-copy", daemon=True)
            self._thread.start()

    @staticmethod
    def _scalar_defaults(table) -> dict:
        return {c.name: c.default.arg for c in table.columns
                if c.default is not None and getattr(c.default, "is_scalar", False)}

    def new_id(self, table: str) -> int:
        value = self.next_ids[table]
        self.next_ids[table] = value + 1
        return value

    def add(self, table: str, **values) -> None:
        if table not in self.checked:
            unknown = set(values) - set(self.columns[table])
            if unknown:
                raise ValueError(f"{table} has no column {', '.join(sorted(unknown))}")
            self.checked.add(table)
        if self.postgres:
            self.buffers[table].append(self.formatters[table](values))
        else:
            merged = {**self.defaults[table], **values}
            self.buffers[table].append({c: merged.get(c) for c in self.columns[table]})
        self.pending += 1
        if self.pending >= self.chunk_rows:
            self.flush()

    def _copy(self, batch: list[tuple[str, list[str]]]) -> None:
        cursor = self.connection.connection.cursor()
        try:
            for name, rows in batch:
                columns = ", ".join(f'"{c}"' for c in self.columns[name])
                cursor.copy_expert(f'COPY "{name}" ({columns}) FROM STDIN',
                                   io.StringIO("\n".join(rows) + "\n"), size=1 << 20)
        finally:
            cursor.close()

    def _copy_loop(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                if self._error is None:
                    self._copy(batch)
            except BaseException as error:  # noqa: BLE001 - handed to the generating thread
                self._error = error
            finally:
                self._queue.task_done()

    def _raise_copy_error(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"COPY failed: {self._error}") from self._error

    def flush(self) -> None:
        """Hand every buffered row over to be written, table by table in dependency order."""
        batch = [(name, self.buffers[name]) for name in self.order if self.buffers[name]]
        for name, rows in batch:
            self.counts[name] += len(rows)
            self.buffers[name] = []
        self.pending = 0
        if not batch:
            return
        if self.postgres:
            self._raise_copy_error()
            self._queue.put(batch)  # waits while the previous batch is still being copied
        else:
            for name, rows in batch:
                self.connection.execute(self.tables[name].insert(), rows)

    def close(self) -> None:
        """Write what is left and wait until it is written; the connection is free again."""
        self.flush()
        self.stop()
        self._raise_copy_error()

    def _suspend_constraints(self) -> None:
        """What pg_restore does: load first, then build the secondary indexes (one sorted build
        instead of millions of insertions) and check the foreign keys (one join per key instead
        of a trigger per row). Inside the transaction: a failure rolls it all back, and the
        keys are checked in full when they are added again. Unique indexes stay, and so do
        primary keys. The tables are locked meanwhile (seed-bulk is not run on a live site).
        """
        execute = self.connection.exec_driver_sql
        self._foreign_keys = execute(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = current_schema() "
            "ORDER BY 1, 2").all()
        self._indexes = execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = current_schema() AND NOT i.indisprimary AND NOT i.indisunique "
            "AND t.relname <> 'alembic_version' ORDER BY 1").all()
        for table, name, _definition in self._foreign_keys:
            execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in self._indexes:
            execute(f"DROP INDEX {name}")

    def restore_constraints(self) -> None:
        """Build the indexes and add (and so check) the foreign keys that were set aside."""
        if not self.postgres:
            return
        execute = self.connection.exec_driver_sql
        execute("SET LOCAL maintenance_work_mem = '512MB'")
        execute("SET LOCAL work_mem = '256MB'")
        for _name, definition in self._indexes:
            execute(definition)
        for table, name, definition in self._foreign_keys:
            execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        self._indexes, self._foreign_keys = [], []

    def stop(self) -> None:
        """Let the copying thread finish what it has and end (also after an error)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def set_sequences(self) -> None:
        """After COPY with our own ids, the id sequences continue after the largest id."""
        if not self.postgres:
            return  # SQLite's rowid continues after the largest id by itself
        for name in self.counts:
            if "id" not in self.tables[name].c:
                continue
            self.connection.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM \"{name}\"), (SELECT COUNT(*) > 0 FROM \"{name}\"))"
            ))


# --- the generator ---------------------------------------------------------------------------


@dataclass
class BulkResult:
    counts: dict[str, int]
    states: dict[str, int]
    seconds: float
    photo_objects: str
    logins: list[str] = field(default_factory=list)
    flag_weeks: int = 0


class BulkRefused(Exception):
    """The database is not one seed-bulk should write to; the message says why."""


def _migration_constant(filename: str, name: str):
    """A constant from a migration module (the default taxonomy, the default checklist)."""
    spec = importlib.util.spec_from_file_location(f"_bulk_{filename[:4]}", MIGRATIONS / filename)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def _ensure_taxonomy() -> tuple[dict[str, int], list[int], list[int]]:
    """Fault codes to ids, the faults' ids and the groups' ids; the default taxonomy (migration
    0002's) is inserted if missing."""
    if not db.session.scalar(select(func.count(FaultCategory.id))):
        defaults = _migration_constant("0002_diagnosis_photos.py", "DEFAULT_FAULT_CATEGORIES")
        for position, (code, name_en, name_zh, children) in enumerate(defaults):
            group = FaultCategory(code=code, name_en=name_en, name_zh=name_zh, position=position)
            group.children = [FaultCategory(code=c, name_en=en, name_zh=zh, position=i)
                              for i, (c, en, zh) in enumerate(children)]
            db.session.add(group)
        db.session.flush()
    categories = list(db.session.scalars(select(FaultCategory).where(FaultCategory.active.is_(True))))
    return ({c.code: c.id for c in categories}, [c.id for c in categories if c.parent_id is not None],
            [c.id for c in categories if c.parent_id is None])


def _ensure_checklist() -> tuple[int, list[tuple]]:
    """The active delivery checklist: its id and items (migration 0003's default if missing)."""
    from ..blueprints.inspections.operations import active_template

    template = active_template()
    if template is None:
        from ..models import ChecklistItem

        defaults = _migration_constant("0003_inspections.py", "DEFAULT_ITEMS")
        template = ChecklistTemplate(name="delivery", version=1, active=True, created_dt=utcnow())
        template.items = [ChecklistItem(position=i, code=code, label_en=en, label_zh=zh, kind=kind, scope=scope)
                          for i, (scope, kind, code, en, zh) in enumerate(defaults)]
        db.session.add(template)
        db.session.flush()
    items = [(i.code, i.label_en, i.label_zh, i.kind, i.scope) for i in template.items]
    return template.id, items


def _shared_photos() -> tuple[list[dict], str]:
    """A handful of real JPEGs (display + thumbnail) that every bulk photo row shows.

    Stored once under bulk/shared/ when an object store is configured; otherwise the keys are
    only referenced (the pages then show broken images, which is fine for query benchmarks).
    """
    from PIL import Image, ImageDraw

    photos, stored = [], bool(current_app.config.get("S3_ENDPOINT_URL") or current_app.config.get("AWS_ACCESS_KEY_ID"))
    colours = [(150, 40, 30), (60, 70, 90), (40, 120, 60), (200, 160, 40), (90, 40, 140), (30, 110, 160)]
    for n in range(SHARED_PHOTOS):
        blobs = {}
        for variant, size in (("display", (1600, 1200)), ("thumb", (320, 240))):
            image = Image.new("RGB", size, (225, 222, 215))
            draw = ImageDraw.Draw(image)
            w, h = size
            draw.rectangle([w // 5, h // 5, w * 4 // 5, h * 4 // 5], fill=colours[n % len(colours)])
            draw.ellipse([w * 2 // 5, h * 2 // 5, w * 3 // 5, h * 3 // 5], fill=(240, 240, 240))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=85)
            blobs[variant] = out.getvalue()
        keys = {v: f"bulk/shared/{n}/{v}.jpg" for v in blobs}
        if stored:
            from ..services import storage

            for variant, data in blobs.items():
                storage.put(keys[variant], io.BytesIO(data), "image/jpeg")
        import hashlib

        photos.append({"display_key": keys["display"], "thumb_key": keys["thumb"], "content_type": "image/jpeg",
                       "sha256": hashlib.sha256(blobs["display"]).hexdigest(), "byte_size": len(blobs["display"]),
                       "width": 1600, "height": 1200})
    note = (f"{SHARED_PHOTOS} shared display/thumbnail objects stored under bulk/shared/" if stored else
            f"no object store configured: photo rows reference {SHARED_PHOTOS} shared keys under bulk/shared/ "
            "that are not stored")
    return photos, note


def seed_bulk(jobs: int, technicians: int, weeks: int, seed: int = 7, append: bool = False,
              now: datetime | None = None, progress: Callable[[str], None] | None = None,
              chunk_rows: int = 250_000) -> BulkResult:
    """Generate the data; flushes and leaves the commit to the caller (the command commits)."""
    started = time.monotonic()
    say = progress or (lambda message: None)
    if jobs < 1 or technicians < 1 or weeks < 1:
        raise BulkRefused("--jobs, --technicians and --weeks must be at least 1.")
    existing = db.session.scalar(select(func.count(Job.id)))
    if existing and not append:
        raise BulkRefused(f"The database already has {existing} jobs; seed-bulk wants an empty one "
                          "(add --append to add to it anyway).")
    now = (now or utcnow()).replace(microsecond=0)
    rng = random.Random(seed)
    config = current_app.config
    arrival_hours = config["ARRIVAL_HOURS"]
    due_days = config["FOLLOW_UP_DUE_DAYS"]
    four_eyes_above = Decimal(str(config.get("CLAIM_SECOND_APPROVAL_ABOVE", 10000)))

    if db.session.connection().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL synchronous_commit TO off"))
    faults, leaf_ids, group_ids = _ensure_taxonomy()
    template_id, checklist = _ensure_checklist()
    shared_photos, photo_note = _shared_photos()
    w = RowWriter(chunk_rows)
    try:
        say("reference data ready")

        # --- staff ---------------------------------------------------------------------------
        region_count = max(1, -(-technicians // TECHNICIANS_PER_REGION))
        region_ids = []
        for n in range(region_count):
            rid = w.new_id("regions")
            region_ids.append(rid)
            w.add("regions", id=rid, code=f"b{rid:03d}", name=f"Region {n + 1} 区域{n + 1}")
        password_hash = generate_password_hash(BULK_PASSWORD, method=config.get("PASSWORD_HASH_METHOD", "scrypt"))
        hired = now - timedelta(weeks=weeks, days=30)
        staff_names = ["Li", "Wang", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu"]

        def user(role: str, region_id: int | None) -> int:
            uid = w.new_id("users")
            prefix = {"technician": "tech", "dispatcher": "disp", "reviewer": "rev", "supervisor": "sup"}[role]
            w.add("users", id=uid, username=f"{prefix}{uid}",
                  display_name=f"{staff_names[uid % 10]} {prefix.title()} {uid}",
                  password_hash=password_hash, role=role, region_id=region_id, phone=f"139 {uid:08d}",
                  locale=None, active=True, session_version=1, created_dt=hired)
            return uid

        techs_by_region: dict[int, list[int]] = {r: [] for r in region_ids}
        for n in range(technicians):
            region = region_ids[n % region_count]
            techs_by_region[region].append(user("technician", region))
        dispatchers_by_region = {r: [user("dispatcher", r) for _ in range(max(1, len(techs_by_region[r]) // 25))]
                                 for r in region_ids}
        reviewers = [user("reviewer", region_ids[n % region_count]) for n in range(max(2, technicians // 100))]
        supervisors = [user("supervisor", region_ids[0]) for _ in range(max(1, region_count // 5))]
        all_techs = [t for ts in techs_by_region.values() for t in ts]
        logins = [f"tech{techs_by_region[region_ids[0]][0]}", f"disp{dispatchers_by_region[region_ids[0]][0]}",
                  f"rev{reviewers[0]}", f"sup{supervisors[0]}"]

        # --- customers and products ----------------------------------------------------------
        customer_count = max(20, jobs // 8)
        customer_region, customer_products = [], []
        product_model, product_serial = {}, {}
        model_faults = {m: [faults[c] for c in codes if c in faults] or leaf_ids for m, codes in PRODUCT_MODELS}
        models = [m for m, _ in PRODUCT_MODELS]
        for n in range(customer_count):
            cid = w.new_id("customers")
            region = region_ids[n % region_count]
            w.add("customers", id=cid, name=f"{rng.choice(CITIES)} {rng.choice(TRADES)} {rng.choice(FORMS)} {cid}",
                  phone=f"0{10 + cid % 890} {5550000 + cid}",
                  address=f"{cid % 400 + 1} Industrial Road, {rng.choice(CITIES)}",
                  region_id=region, locale="en" if rng.random() < 0.1 else "zh_CN", created_dt=hired)
            products = []
            for _ in range(1 if rng.random() < 0.6 else rng.randint(2, 3)):
                pid = w.new_id("products")
                model = rng.choice(models)
                serial = f"{model.split()[0]}-{pid:07d}"
                product_model[pid], product_serial[pid] = model, serial
                coverage = (now.date() + timedelta(days=rng.randint(-400, 700))) if rng.random() < 0.8 else None
                w.add("products", id=pid, customer_id=cid, model=model, serial=serial,
                      made_by_us=rng.random() > 0.03, coverage_end_date=coverage)
                products.append(pid)
            customer_region.append((cid, region))
            customer_products.append(products)
        say(f"{len(all_techs)} technicians in {region_count} regions, {customer_count} customers")

        # --- jobs and everything hanging off them --------------------------------------------
        pick_type = _Choice(rng, REQUEST_TYPES)
        pick_priority = _Choice(rng, PRIORITIES)
        pick_state = [(limit, _Choice(rng, table)) for limit, table in STATE_BY_AGE]
        pick_outcome = _Choice(rng, OUTCOMES)
        pick_satisfaction = _Choice(rng, SATISFACTION)
        pick_claim_type = _Choice(rng, CLAIM_TYPES)
        pick_appraisal = _Choice(rng, APPRAISALS)
        span = weeks * 7 * 86400
        first_created = created = now - timedelta(seconds=span)
        states: Counter = Counter()
        repeat_window = timedelta(days=config["COMPLAINT_REPEAT_WINDOW_DAYS"])
        claim_seq = 0
        hour = timedelta(hours=1)

        def audit(job_id, action, actor, from_state, to_state, when, reason=None):
            w.add("audit_events", id=w.new_id("audit_events"), entity_type="job", entity_id=job_id, action=action,
                  from_state=from_state, to_state=to_state, reason=reason, actor_id=actor, created_dt=when,
                  request_key=None)

        def photo(job_id, tech, when, diagnosis_id=None, part_id=None, inspection_id=None, check_id=None, caption=""):
            pid = w.new_id("photos")
            shared = shared_photos[pid % len(shared_photos)]
            w.add("photos", id=pid, job_id=job_id, diagnosis_id=diagnosis_id, part_id=part_id,
                  inspection_id=inspection_id,
                  inspection_check_id=check_id, caption=caption, original_key=f"bulk/originals/{pid}.jpg",
                  captured_dt=None, uploaded_by_id=tech, uploaded_dt=when, client_key=None, **shared)
            return pid

        def complaint(job_id, cid, region, tech, product, fault_id, category, logged, dispatcher, follow_up_id=None,
                      earlier_id=None):
            kid = w.new_id("complaints")
            closed = logged + timedelta(days=rng.uniform(0.5, 6))
            is_closed = closed < now and rng.random() < 0.95
            w.add("complaints", id=kid, customer_id=cid, region_id=region, job_id=job_id, technician_id=tech,
                  product_id=product, fault_category_id=fault_id, category=category,
                  description=COMPLAINT_TEXTS[category], status="closed" if is_closed else "open",
                  version=2 if is_closed else 1, logged_by_id=dispatcher, logged_dt=logged,
                  escalated=earlier_id is not None, escalated_dt=logged if earlier_id is not None else None,
                  follow_up_id=follow_up_id, answer=rng.choice(ANSWERS) if is_closed else None,
                  closed_by_id=(supervisors[0] if earlier_id is not None else dispatcher) if is_closed else None,
                  closed_dt=closed if is_closed else None)
            if earlier_id is not None:
                w.add("complaint_links", complaint_id=kid, earlier_id=earlier_id)
            return kid

        for n in range(jobs):
            # Jobs are logged in time order (ids grow with time, as in a real centre, so the
            # tables are laid out by time); the last few take every state even in a tiny run.
            forced = n - (jobs - len(STATES))
            if forced >= 0:
                state = STATES[forced]
                created = max(created, now - timedelta(seconds=rng.uniform(3600, 20 * 3600)))
            else:
                created = first_created + timedelta(seconds=int(span * (n + rng.random()) / jobs))
                age = (now - created).total_seconds() / 3600
                state = next(choice for limit, choice in pick_state if limit is None or age < limit)()
            states[state] += 1
            jid = w.new_id("jobs")
            index = rng.randrange(customer_count)
            cid, region = customer_region[index]
            request_type = pick_type()
            products = customer_products[index]
            product = rng.choice(products) if request_type != "inquiry" or rng.random() < 0.5 else None
            priority = pick_priority()
            deadline = created + timedelta(hours=arrival_hours[priority])
            dispatcher = rng.choice(dispatchers_by_region[region])
            tech = rng.choice(techs_by_region[region]) if techs_by_region[region] else rng.choice(all_techs)

            # The timeline, compressed into [created, now] when the job is young.
            assigned = created + timedelta(seconds=rng.uniform(300, 7200))
            late_target = rng.random() < 0.08
            if late_target:
                checked_in = deadline + timedelta(seconds=rng.uniform(600, 6 * 3600))
            else:
                checked_in = assigned + (max(deadline, assigned + hour) - assigned) * rng.uniform(0.2, 0.95)
            en_route = max(assigned + timedelta(seconds=60), checked_in - timedelta(seconds=rng.uniform(900, 5400)))
            resolved = checked_in + timedelta(seconds=rng.uniform(1800, 4 * 3600))
            called_within = (due_days + (2 if rng.random() < 0.1 else 0)) * 86400  # 1 in 10 called late
            closed = resolved + timedelta(seconds=rng.uniform(4 * 3600, called_within))
            last = {"new": created, "assigned": assigned, "en_route": en_route, "on_site": checked_in,
                    "escalated": checked_in, "resolved": resolved, "closed": closed, "cancelled": created}[state]
            if last > now - timedelta(seconds=60):
                factor = max(0.0, (now - created).total_seconds() - 60) / max(1.0, (last - created).total_seconds())
                assigned, en_route, checked_in, resolved, closed = (
                    created + (t - created) * factor for t in (assigned, en_route, checked_in, resolved, closed))
            reached = {s: i for i, s in enumerate(("new", "assigned", "en_route", "on_site", "resolved", "closed"))}
            depth = reached.get(state, 0)
            before_escalation = None
            if state == "escalated":
                before_escalation = "on_site" if rng.random() < 0.6 else "assigned"
                depth = reached[before_escalation]
            elif state == "cancelled" and rng.random() < 0.5:
                depth = 1
            has_tech = depth >= 1
            cancelled_dt = None
            if state == "cancelled":
                cancelled_dt = min(now, created + timedelta(seconds=rng.uniform(600, 86400)))
                assigned = min(assigned, cancelled_dt)
            row = dict(id=jid, customer_id=cid, product_id=product, region_id=region, request_type=request_type,
                       priority=priority, description=rng.choice(DESCRIPTIONS[request_type]), status=state,
                       created_by_id=dispatcher, created_dt=created, arrival_deadline_dt=deadline,
                       technician_id=tech if has_tech else None, assigned_by_id=dispatcher if has_tech else None,
                       assigned_dt=assigned if has_tech else None, en_route_dt=en_route if depth >= 2 else None,
                       checked_in_dt=checked_in if depth >= 3 else None, resolved_dt=resolved if depth >= 4 else None,
                       closed_dt=closed if depth >= 5 else cancelled_dt, late=depth >= 3 and checked_in > deadline,
                       resolution_note=rng.choice(RESOLUTION_NOTES) if depth >= 4 else None,
                       status_before_escalation=before_escalation)
            # The audit trail, as the operations write it (policy 3.5).
            audit(jid, "created", dispatcher, None, "new", created)
            events = 1
            steps = [("assign", assigned, dispatcher, "new", "assigned"),
                     ("start_travel", en_route, tech, "assigned", "en_route"),
                     ("check_in", checked_in, tech, "en_route", "on_site"),
                     ("resolve", resolved, tech, "on_site", "resolved"),
                     ("close", closed, dispatcher, "resolved", "closed")]
            for action, when, actor, from_state, to_state in steps[:depth]:
                audit(jid, action, actor, from_state, to_state, when,
                      reason=row["resolution_note"] if action == "resolve" else None)
                events += 1
            if state == "escalated":
                raised = min(now, (checked_in if depth >= 3 else assigned) + timedelta(minutes=20))
                audit(jid, "escalate", tech, before_escalation, "escalated", raised,
                      reason="Customer disputes the charge.")
                w.add("escalations", id=w.new_id("escalations"), job_id=jid, raised_by_id=tech, raised_dt=raised,
                      reason="Customer disputes the charge.", decided_by_id=None, decided_dt=None, decision=None)
                events += 1
            elif state == "cancelled":
                audit(jid, "cancel", dispatcher, "assigned" if has_tech else "new", "cancelled", cancelled_dt,
                      reason="Customer cancelled the request.")
                events += 1
            elif state == "closed" and rng.random() < 0.005:  # decided long ago (policy 3.1)
                raised = checked_in + timedelta(minutes=10)
                w.add("escalations", id=w.new_id("escalations"), job_id=jid, raised_by_id=tech, raised_dt=raised,
                      reason="Needs a supervisor's approval for the cost.", decided_by_id=supervisors[0],
                      decided_dt=raised + timedelta(minutes=30), decision="Approved; go ahead.")
            row["version"] = events
            w.add("jobs", **row)

            # The diagnosis (ledger row) of a fault visit, and its parts and photos.
            diagnosis_id, fault_id, kept_part = None, None, None
            if request_type == "fault_repair" and (depth >= 4 or (depth == 3 and rng.random() < 0.5)):
                submitted = depth >= 4
                fault_id = (rng.choice(model_faults[product_model[product]]) if product and rng.random() < 0.7
                            else rng.choice(leaf_ids) if rng.random() < 0.97 else rng.choice(group_ids))
                outcome = pick_outcome() if submitted else None
                when = resolved if submitted else checked_in + timedelta(minutes=15)
                versions = 2 if submitted and rng.random() < 0.01 else 1
                supersedes = None
                for version in range(1, versions + 1):
                    diagnosis_id = w.new_id("diagnoses")
                    current = version == versions
                    w.add("diagnoses", id=diagnosis_id, job_id=jid, version=version,
                          status=("submitted" if current else "superseded") if submitted else "draft",
                          technician_id=tech, supersedes_id=supersedes, symptom=rng.choice(SYMPTOMS),
                          fault_category_id=fault_id, root_cause=rng.choice(ROOT_CAUSES) if submitted else "",
                          actions_taken=rng.choice(ACTIONS) if submitted else "",
                          guidance=rng.choice(GUIDANCE) if submitted else "",
                          outcome=outcome,
                          customer_explanation=rng.choice(EXPLANATIONS) if outcome == "out_of_scope" else "",
                          contact_name=rng.choice(CONTACTS) if submitted else "", signature_key=None,
                          created_dt=checked_in, draft_saved_dt=when,
                          submitted_dt=(when + timedelta(days=version - 1)) if submitted else None,
                          time_on_site_seconds=int((resolved - checked_in).total_seconds()) if submitted else None,
                          follow_up_job_id=None)
                    supersedes = diagnosis_id
                if submitted:
                    parts = 0 if rng.random() < 0.55 else (1 if rng.random() < 0.78 else 2)
                    for position in range(parts):
                        part_id = w.new_id("replaced_parts")
                        number, description = rng.choice(PARTS)
                        kept = rng.random() < 0.3
                        w.add("replaced_parts", id=part_id, diagnosis_id=diagnosis_id, position=position,
                              part_number=number, description=description, quantity=1,
                              faulty_serial=f"F{part_id:08d}",
                              replacement_serial=f"R{part_id:08d}", kept_as_evidence=kept)
                        kept_part = kept_part or (part_id if kept else None)
                    if rng.random() < 0.15:
                        photo(jid, tech, resolved - timedelta(minutes=20), diagnosis_id, kept_part,
                              caption="Defective part")
                        photo(jid, tech, resolved - timedelta(minutes=18), diagnosis_id, None, caption="Nameplate")

            # The delivery inspection of an inspection job (policy 4.3, 4.4).
            inspection_id = None
            if request_type in ("delivery_inspection", "centre_inspection") and depth >= 3:
                submitted = depth >= 4
                inspection_id = w.new_id("inspections")
                failed = submitted and rng.random() < 0.12
                w.add("inspections", id=inspection_id,
                      kind="site_delivery" if request_type == "delivery_inspection" else "centre_receipt",
                      job_id=jid, customer_id=cid, order_reference=f"PO-{created.year}-{jid:07d}",
                      template_id=template_id,
                      inspector_id=tech, status="submitted" if submitted else "draft",
                      result=("failed" if failed else "passed") if submitted else None, started_dt=checked_in,
                      draft_saved_dt=checked_in + timedelta(minutes=10), submitted_dt=resolved if submitted else None,
                      notes="", follow_up_job_id=None, corrects_id=None)
                lines = []
                for position in range(1 if rng.random() < 0.7 else 2):
                    line_id = w.new_id("inspection_lines")
                    model = product_model[product] if product and position == 0 else rng.choice(models)
                    lines.append((line_id, model))
                    w.add("inspection_lines", id=line_id, inspection_id=inspection_id, position=position,
                          product_model=model, expected_quantity=rng.randint(1, 5))
                per_line = sum(1 for item in checklist if item[4] == "line")
                fail_at = rng.randrange(per_line * len(lines) + len(checklist) - per_line) if failed else -1
                position = 0
                for line_id, _model in lines + [(None, None)]:
                    for code, label_en, label_zh, kind, scope in checklist:
                        if (scope == "line") != (line_id is not None):
                            continue
                        check_id = w.new_id("inspection_checks")
                        answered = submitted or rng.random() < 0.5
                        fails = position == fail_at
                        expected = rng.randint(1, 5) if kind == "quantity" else None
                        w.add("inspection_checks", id=check_id, inspection_id=inspection_id, line_id=line_id,
                              position=position, item_code=code, label_en=label_en, label_zh=label_zh, kind=kind,
                              answer=("fail" if fails else "pass") if answered else None,
                              note="Crate crushed at one corner." if fails else "", expected_quantity=expected,
                              counted_quantity=(expected - 1 if fails else expected) if expected and answered else None)
                        if fails:
                            photo(jid, tech, resolved - timedelta(minutes=5), inspection_id=inspection_id,
                                  check_id=check_id,
                                  caption="Damage")
                        position += 1

            # The follow-up call of a resolved job (policy 2.1) and what the customer said.
            follow_up_id, satisfaction = None, None
            if depth >= 4:
                follow_up_id = w.new_id("follow_ups")
                done = depth >= 5
                satisfaction = pick_satisfaction() if done else None
                no_answer = not done and rng.random() < 0.2 and resolved + timedelta(hours=5) < now
                w.add("follow_ups", id=follow_up_id, job_id=jid, region_id=region, status="done" if done else "pending",
                      created_dt=resolved, due_dt=resolved + timedelta(days=due_days),
                      attempts=1 if done or no_answer else 0,
                      version=2 if done or no_answer else 1,
                      outcome="reached" if done else ("no_answer" if no_answer else None), satisfaction=satisfaction,
                      comments=rng.choice(FOLLOW_UP_COMMENTS) if done else "",
                      called_by_id=dispatcher if done or no_answer else None,
                      called_dt=closed if done else (resolved + timedelta(hours=4) if no_answer else None))

            # Complaints (policy 2.6): from unhappy calls, late arrivals, missed inspection damage;
            # some customers call again about the same job: escalated, linked to the earlier one.
            category, logged, from_call = None, None, False
            if satisfaction is not None and satisfaction <= 2 and rng.random() < 0.6:
                category = "late_arrival" if row["late"] and rng.random() < 0.5 else rng.choice(
                    ["fault_not_fixed", "poor_communication", "behaviour", "product_quality"])
                logged, from_call = closed, True
            elif row["late"] and depth >= 4 and rng.random() < 0.1:
                category, logged = "late_arrival", resolved + timedelta(hours=rng.uniform(1, 48))
            elif inspection_id is not None and depth >= 4 and rng.random() < 0.03:
                category, logged = "inspection_negligence", resolved + timedelta(days=rng.uniform(1, 5))
            elif request_type == "complaint" and depth >= 1:
                category, logged = rng.choice(["behaviour", "poor_communication", "other"]), created
            if category and logged < now:
                first = complaint(jid, cid, region, tech, product, fault_id, category, logged, dispatcher,
                                  follow_up_id=follow_up_id if from_call else None)
                again = logged + timedelta(days=rng.uniform(2, repeat_window.days * 0.6))
                if rng.random() < 0.15 and again < now:
                    complaint(jid, cid, region, tech, product, fault_id, category, again, dispatcher, earlier_id=first)

            # Claims (policy 3.7) with their evidence, the reviewer's questions and decisions.
            if depth >= 4 and (request_type == "claim" or (kept_part and rng.random() < 0.05)):
                claim_seq += 1
                claim_id = w.new_id("claims")
                opened = resolved + timedelta(hours=1)
                submitted_dt = opened + timedelta(hours=rng.uniform(0.2, 6))
                decided = submitted_dt + timedelta(days=rng.uniform(1, 10))
                if submitted_dt >= now or rng.random() < 0.03:
                    status = "draft"
                elif decided < now and rng.random() < 0.92:
                    status = "approved" if rng.random() < 0.72 else "rejected"
                else:
                    status = rng.choice(["submitted", "under_review", "under_review", "info_requested", "resubmitted"])
                decided_dt = decided if status in ("approved", "rejected") else None
                amount = Decimal(rng.randrange(20000, 2000000)) / 100
                approved_amount = (amount * Decimal(rng.choice(["1", "1", "0.8", "0.5"]))).quantize(Decimal("0.01")) \
                    if status == "approved" else None
                two_reviewers = approved_amount is not None and approved_amount > four_eyes_above
                reviewer = rng.choice(reviewers)
                appraised = status in ("approved", "rejected", "under_review") and rng.random() < 0.8
                appraisal = pick_appraisal() if appraised else None
                w.add("claims", id=claim_id, claim_type=pick_claim_type(), status=status,
                      version={"draft": 1, "submitted": 2, "under_review": 3, "info_requested": 4, "resubmitted": 5,
                               "approved": 4, "rejected": 4}[status],
                      job_id=jid, diagnosis_id=diagnosis_id, inspection_id=inspection_id,
                      customer_id=cid, region_id=region,
                      product_id=product, product_model=product_model.get(product, ""),
                      serial=product_serial.get(product, ""),
                      amount_claimed=amount, currency="CNY", description="The part failed within the warranty period.",
                      part_whereabouts=rng.choice(["at_customer", "sent_to_centre", "received_at_centre"]),
                      tracking_number="", opened_by_id=tech, opened_dt=opened,
                      submitted_dt=submitted_dt if status != "draft" else None, decided_dt=decided_dt,
                      decision_reason=("Defect confirmed." if status == "approved" else "Damage caused by misuse.")
                      if decided_dt else "",
                      approved_amount=approved_amount, first_approver_id=reviewer if two_reviewers else None,
                      first_approved_amount=approved_amount if two_reviewers else None,
                      first_approval_reason="Defect confirmed." if two_reviewers else "",
                      second_approver_id=(reviewers[(reviewers.index(reviewer) + 1) % len(reviewers)]
                                          if two_reviewers else None),
                      appraisal=appraisal, appraisal_notes="" if appraisal is None else "Seen on the photos.",
                      appraised_by_id=reviewer if appraisal else None)
                # Most claims carry 1-3 photos; every 500th one 12 (the benchmark's claim page).
                for k in range(12 if claim_seq % 500 == 1 else rng.randint(1, 3)):
                    pid = photo(jid, tech, opened - timedelta(minutes=30 - k), diagnosis_id,
                                caption=f"Evidence {k + 1}")
                    w.add("claim_evidence", id=w.new_id("claim_evidence"), claim_id=claim_id, photo_id=pid,
                          added_by_id=tech, added_dt=opened, added_in_status="draft")
                if status in ("info_requested", "resubmitted"):
                    asked = submitted_dt + timedelta(hours=rng.uniform(2, 48))
                    w.add("claim_messages", id=w.new_id("claim_messages"), claim_id=claim_id, author_id=reviewer,
                          kind="question", body="Please add a photo of the serial plate.", created_dt=asked)
                    if status == "resubmitted":
                        w.add("claim_messages", id=w.new_id("claim_messages"), claim_id=claim_id, author_id=tech,
                              kind="answer", body="Added.", created_dt=asked + hour)
            if n and n % 100_000 == 0:
                say(f"{n} jobs generated ({time.monotonic() - started:.0f} s)")

        # Suggestions (policy 3.11): a few per technician per year, some adopted.
        for _ in range(max(2, technicians * weeks // 100)):
            created = now - timedelta(seconds=int(span * rng.random()))
            adopted = rng.random() < 0.3 and created + timedelta(days=7) < now
            model = rng.choice(models)
            w.add("suggestions", id=w.new_id("suggestions"), author_id=rng.choice(all_techs), created_dt=created,
                  title=f"Ship {model} with a spare seal", body="Most calls about it are a worn seal.",
                  product_model=model,
                  fault_category_id=rng.choice(model_faults[model]), claim_id=None,
                  status="adopted" if adopted else "proposed", version=2 if adopted else 1,
                  decided_by_id=supervisors[0] if adopted else None,
                  decided_dt=created + timedelta(days=7) if adopted else None,
                  decision_note="Adopted." if adopted else None)
        w.close()
    finally:
        w.stop()  # also when generating failed: the connection is free for the rollback
    say(f"rows copied ({time.monotonic() - started:.0f} s); building indexes, checking foreign keys")
    w.restore_constraints()
    w.set_sequences()
    say(f"rows written ({time.monotonic() - started:.0f} s); refreshing quality flags")

    # The quality watch (policy 2.4), week by week as it would have run; flags of all but the last
    # two weeks were acknowledged by a supervisor meanwhile.
    from ..blueprints.statistics.operations import refresh_quality_flags
    from ..services.periods import iso_week, shift_week, week_name

    week = week_name(now - timedelta(weeks=weeks))
    last = week_name(now)
    still_open = {shift_week(last, -1), last}
    flag_weeks = 0
    while True:
        period = iso_week(week)
        refresh_quality_flags(week, now=min(now, period.end_dt))
        flag_weeks += 1
        if week not in still_open:
            db.session.execute(
                update(QualityFlag).where(QualityFlag.iso_week == week, QualityFlag.acknowledged_dt.is_(None))
                .values(acknowledged_by_id=supervisors[0], acknowledged_dt=min(now, period.end_dt + timedelta(days=2)),
                        note="Reviewed with the product team.")
                .execution_options(synchronize_session=False))
        if week == last:
            break
        week = shift_week(week, 1)
    db.session.flush()
    counts = dict(w.counts)
    counts["quality_flags"] = db.session.scalar(select(func.count(QualityFlag.id))) or 0
    return BulkResult(counts=counts, states=dict(states), seconds=time.monotonic() - started,
                      photo_objects=photo_note, logins=logins, flag_weeks=flag_weeks)


def analyze_tables() -> None:
    """VACUUM (ANALYZE) after a bulk load (PostgreSQL): planner statistics, and the visibility
    map that index-only scans need -- the state autovacuum brings a live database to, so plans
    and benchmarks see what production would. (VACUUM cannot run inside a transaction.)"""
    if db.session.connection().dialect.name != "postgresql":
        return
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE)")


@click.command("seed-bulk")
@click.option("--jobs", "job_count", type=click.IntRange(1), required=True, help="How many jobs.")
@click.option("--technicians", type=click.IntRange(1), required=True, help="How many technicians (~50 a region).")
@click.option("--weeks", type=click.IntRange(1), required=True, help="How many weeks of history, up to now.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same data).")
@click.option("--append", is_flag=True, help="Add to a database that already has jobs.")
@with_appcontext
def seed_bulk_command(job_count, technicians, weeks, seed, append):
    """Fill the database with realistic data at scale (benchmarks; never production)."""
    started = time.monotonic()

    def say(message: str) -> None:
        click.echo(f"[{time.monotonic() - started:6.1f} s] {message}")

    try:
        result = seed_bulk(job_count, technicians, weeks, seed=seed, append=append, progress=say)
    except BulkRefused as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    say("committed; VACUUM (ANALYZE)")
    analyze_tables()
    say("done")
    for name, n in sorted(result.counts.items()):
        click.echo(f"  {name:<20} {n:>10}")
    click.echo("Jobs by state: " + ", ".join(f"{s} {result.states.get(s, 0)}" for s in STATES))
    click.echo(f"Photos: {result.photo_objects}.")
    click.echo(f"Quality flags refreshed for {result.flag_weeks} weeks.")
    click.echo(f"Sign in as {', '.join(result.logins)} (password {BULK_PASSWORD}).")
    click.echo(f"Total {time.monotonic() - started:.1f} s.")


_check_pools()
