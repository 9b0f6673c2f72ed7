"""Load run (issue 7): 50 simulated technicians and 5 dispatchers working for 5 minutes against
gunicorn on loopback, with PostgreSQL and a SeaweedFS of the run's own. Not a test: it records
its numbers in bench/RESULTS.md (`make soak`).

Each simulated person is a thread with its own browser-like client (tests/drills/webclient.py:
cookies, the CSRF token of the pages, forms posted as the browser or htmx posts them), signed in
through the real login form, pausing 0.5-1.5 s (think time) between requests:
  * a dispatcher opens the unassigned queue, logs a customer's call (new customer, form POST),
    opens the new job and assigns it to one of the ten technicians of the region (POST with
    the version the page showed);
  * a technician opens My jobs and takes the first job on it, starts travel, checks in, opens
    the diagnosis, saves drafts as they type (htmx autosave), uploads a small photo (with a
    client key, as photos.js does), uploads the contact's signature and submits the diagnosis
    (the job is resolved). Each technician starts with two jobs assigned; later ones come from
    the dispatchers.
At the end: zero server errors (5xx) and no request without an answer, and every record the
clients were told was created is in the database: jobs with their 'created' event, assignments,
lifecycle events, drafts, photos (row and its three objects), signatures, submitted diagnoses.

Run:  python bench/soak.py [--minutes 5] [--database-url URL] [--no-record]
Database: --database-url, else $SOAK_DATABASE_URL, else fs_soak on the local PostgreSQL
(127.0.0.1:5432, user postgres), dropped and created afresh by this script.
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.drills.webclient import Browser, TransportError, free_port, multipart, wait_for_http  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/fs_soak"
PASSWORD = "soak-pass-1234"  # noqa: S105 - throwaway accounts in a throwaway database
REGIONS = 5
TECHNICIANS_PER_REGION = 10
BACKLOG_PER_TECHNICIAN = 2
THINK_SECONDS = (0.5, 1.5)
GUNICORN = ["--workers", "4", "--threads", "4"]  # as the README's production command
JOB_CARD_RE = re.compile(r'id="job-card-(\d+)"')
VERSION_RE = re.compile(r'name="version"[^>]*value="(\d+)"')


# --- what the clients did and saw ---------------------------------------------------------


@dataclass
class Ledger:
    """Every request's kind, status and time, and every record the server said it created."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    unexpected: list[tuple[str, object, str]] = field(default_factory=list)
    jobs_logged: set[int] = field(default_factory=set)
    assigned: dict[int, int] = field(default_factory=dict)                # job -> technician id
    transitions: set[tuple[int, str]] = field(default_factory=set)        # (job, action)
    drafts: set[int] = field(default_factory=set)                         # jobs with a saved draft
    photos: dict[str, int] = field(default_factory=dict)                  # client key -> job
    signatures: set[int] = field(default_factory=set)
    submitted: set[int] = field(default_factory=set)

    def note(self, kind: str, reply, expected: tuple[int, ...]) -> bool:
        with self.lock:
            if isinstance(reply, TransportError):
                self.statuses["no answer"] += 1
                self.unexpected.append((kind, "no answer", str(reply)[:200]))
                return False
            self.timings[kind].append(reply.seconds)
            self.statuses[reply.status] += 1
            if reply.status not in expected:
                self.unexpected.append((kind, reply.status, reply.text[:200]))
                return False
            return True


def send(ledger: Ledger, kind: str, call, expected: tuple[int, ...] = (200,)):
    """Make one request; None when it failed (counted), else the reply."""
    try:
        reply = call()
    except TransportError as exc:
        ledger.note(kind, exc, expected)
        return None
    return reply if ledger.note(kind, reply, expected) else None


def think(stop: threading.Event) -> None:
    stop.wait(random.uniform(*THINK_SECONDS))


# --- the people ---------------------------------------------------------------------------


def dispatcher(base: str, username: str, region_id: int, technician_ids: list[int], ledger: Ledger,
               stop: threading.Event) -> None:
    browser = Browser(base, timeout=60)
    browser.login(username, PASSWORD)
    n = 0
    while not stop.is_set():
        n += 1
        send(ledger, "dispatcher: queue", lambda: browser.get("/dispatch/queue"))
        think(stop)
        send(ledger, "dispatcher: new request form", lambda: browser.get("/requests/new"))
        think(stop)
        form = {"customer_id": "", "customer_name": f"{username} caller {n}", "customer_phone": f"021 5555 {n:04d}",
                "customer_address": f"{n} Canal Road", "customer_region": str(region_id),
                "product_model": "PX-200", "product_serial": f"{username}-{n}", "made_by_us": "y",
                "request_type": "fault_repair", "priority": random.choice(["normal", "high", "urgent"]),
                "description": "The machine stops with error E42 after a few minutes."}
        logged = send(ledger, "dispatcher: log request (POST)", lambda: browser.post_form("/requests/new", form), (303,))
        if logged is None or "/jobs/" not in logged.location:
            continue
        job_id = int(logged.location.rstrip("/").rsplit("/", 1)[1])
        with ledger.lock:
            ledger.jobs_logged.add(job_id)
        page = send(ledger, "dispatcher: job page", lambda: browser.get(f"/jobs/{job_id}"))
        if page is None:
            continue
        version = VERSION_RE.search(page.text)
        think(stop)
        technician_id = random.choice(technician_ids)
        assigned = send(ledger, "dispatcher: assign (POST)", lambda: browser.post_form(
            f"/jobs/{job_id}/assign", {"technician_id": technician_id, "version": version.group(1) if version else 1}),
            (303,))
        if assigned is not None:
            with ledger.lock:
                ledger.assigned[job_id] = technician_id
        think(stop)


def technician(base: str, username: str, fault_id: int, photo: bytes, signature: bytes, ledger: Ledger,
               stop: threading.Event) -> None:
    browser = Browser(base, timeout=60)
    browser.login(username, PASSWORD)
    while not stop.is_set():
        mine = send(ledger, "technician: My jobs", lambda: browser.get("/my-jobs"))
        think(stop)
        cards = JOB_CARD_RE.findall(mine.text) if mine else []
        if not cards:
            continue
        job = int(cards[0])
        for action in ("start_travel", "check_in"):
            done = send(ledger, f"technician: {action} (POST)", lambda: browser.post_form(
                f"/jobs/{job}/{action}", {"request_key": secrets.token_hex(16)}), (303,))
            if done is None:
                break
            with ledger.lock:
                ledger.transitions.add((job, action))
            think(stop)
        else:
            work_on_diagnosis(browser, job, fault_id, photo, signature, ledger, stop)


def work_on_diagnosis(browser: Browser, job: int, fault_id: int, photo: bytes, signature: bytes, ledger: Ledger,
                      stop: threading.Event) -> None:
    if send(ledger, "technician: diagnosis page", lambda: browser.get(f"/jobs/{job}/diagnosis")) is None:
        return
    fields = {"symptom": "Stops after a few minutes with E42.", "fault_category_id": str(fault_id),
              "root_cause": "", "actions_taken": "", "guidance": "", "outcome": "",
              "customer_explanation": "", "contact_name": ""}
    for step in ({"root_cause": "Worn drive belt slipping on the roller."},
                 {"actions_taken": "Replaced the belt, tested for 20 minutes.", "contact_name": "Mr Chen"}):
        think(stop)
        fields.update(step)
        if send(ledger, "technician: autosave draft (POST)", lambda: browser.post_form(
                f"/jobs/{job}/diagnosis/draft", fields, htmx_target="draft-status")) is not None:
            with ledger.lock:
                ledger.drafts.add(job)
    think(stop)
    key = secrets.token_hex(16)
    if send(ledger, "technician: photo upload (POST)", lambda: browser.upload_photo(job, photo, client_key=key),
            (201,)) is not None:
        with ledger.lock:
            ledger.photos[key] = job
    think(stop)
    body, content_type = multipart({}, ("signature", "signature.png", "image/png", signature))
    if send(ledger, "technician: signature (POST)", lambda: browser.request(
            "POST", f"/jobs/{job}/diagnosis/signature", body,
            {"Content-Type": content_type, "HX-Request": "true", "X-CSRFToken": browser.csrf or ""})) is not None:
        with ledger.lock:
            ledger.signatures.add(job)
    think(stop)
    final = {**fields, "guidance": "Keep the belt guard closed.", "outcome": "fixed", "action": "submit"}
    if send(ledger, "technician: submit diagnosis (POST)", lambda: browser.post_form(
            f"/jobs/{job}/diagnosis", final), (303,)) is not None:
        with ledger.lock:
            ledger.submitted.add(job)
    think(stop)


# --- photos -------------------------------------------------------------------------------


def small_photo() -> bytes:
    """A phone photo as photos.js sends it (scaled in the browser): ~1280x960 JPEG, ~150 KB."""
    from PIL import Image, ImageDraw, ImageFilter

    rnd = random.Random(3)
    image = Image.linear_gradient("L").resize((1280, 960)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x, y, r = rnd.randrange(1280), rnd.randrange(960), rnd.randrange(20, 200)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rnd.randrange(256) for _ in range(3)))
    image = Image.blend(image.filter(ImageFilter.GaussianBlur(3)), Image.effect_noise((1280, 960), 30).convert("RGB"), 0.15)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def signature_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 200), "white")
    ImageDraw.Draw(image).line([(20, 150), (120, 40), (220, 160), (340, 50), (560, 120)], fill="black", width=5)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# --- setting up ---------------------------------------------------------------------------


def recreate_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    except Exception as exc:  # noqa: BLE001 - a clear message instead of a driver traceback
        sys.exit(f"cannot create {target.database} on {target.host}:{target.port}: {exc}\n"
                 "Is PostgreSQL running? (pg_lsclusters; pg_ctlcluster 15 main start)")
    finally:
        admin.dispose()


def prepare(app) -> dict:
    """Migrate; regions, a dispatcher and ten technicians per region, two jobs each assigned."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from fieldservice.blueprints.dispatch import operations as ops
    from fieldservice.cli import create_user
    from fieldservice.extensions import db
    from fieldservice.models import Customer, FaultCategory, Region
    from fieldservice.services import storage

    with app.app_context():
        upgrade()
        storage.ensure_bucket()
        people = {"dispatchers": [], "technicians": [], "backlog": 0}
        for r in range(REGIONS):
            region = Region(code=f"r{r}", name=f"Region {r}")
            db.session.add(region)
            dispatcher_user = create_user(f"soakdispatcher{r}", PASSWORD, "dispatcher", f"Dispatcher {r}", region)
            techs = [create_user(f"soaktech{r}-{t}", PASSWORD, "technician", f"Technician {r}-{t}", region)
                     for t in range(TECHNICIANS_PER_REGION)]
            for tech in techs:
                for b in range(BACKLOG_PER_TECHNICIAN):
                    customer = Customer(name=f"Backlog customer {tech.id}-{b}", phone="021 5555 0000",
                                        address="1 Canal Road", region=region)
                    db.session.add(customer)
                    db.session.flush()
                    job = ops.log_request(actor=dispatcher_user, customer=customer, request_type="fault_repair",
                                          priority="normal", description="Backlog: error E42.", product_model="PX-200")
                    ops.assign_job(job, tech, dispatcher_user, job.version)
                    people["backlog"] += 1
            people["dispatchers"].append((dispatcher_user.username, region.id, [t.id for t in techs]))
            people["technicians"] += [t.username for t in techs]
        db.session.commit()
        # A fault within a group (the taxonomy is seeded by migration 0002).
        people["fault_id"] = db.session.scalar(
            select(FaultCategory.id).where(FaultCategory.parent_id.is_not(None)).order_by(FaultCategory.id))
        db.session.remove()
        db.engine.dispose()
    return people


# --- checking what was created --------------------------------------------------------------


def check_records(app, ledger: Ledger) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """Per kind of record: (created by the clients, missing from the database)."""
    from sqlalchemy import func, select

    from fieldservice.extensions import db
    from fieldservice.models import AuditEvent, Diagnosis, Job, Photo
    from fieldservice.services import storage

    checks: dict[str, tuple[int, int]] = {}
    with app.app_context():
        jobs = {j.id: j for j in db.session.scalars(select(Job))}
        created_events = dict(db.session.execute(
            select(AuditEvent.entity_id, func.count()).where(AuditEvent.entity_type == "job", AuditEvent.action == "created")
            .group_by(AuditEvent.entity_id)).all())
        checks["jobs logged (row + one 'created' event)"] = (
            len(ledger.jobs_logged), sum(1 for j in ledger.jobs_logged if j not in jobs or created_events.get(j) != 1))
        checks["assignments (technician on the job)"] = (
            len(ledger.assigned), sum(1 for j, t in ledger.assigned.items() if j not in jobs or jobs[j].technician_id != t))
        events = set(db.session.execute(select(AuditEvent.entity_id, AuditEvent.action).where(
            AuditEvent.entity_type == "job", AuditEvent.action.in_(("start_travel", "check_in")))).all())
        checks["start travel / check in (audit events)"] = (
            len(ledger.transitions), len(ledger.transitions - {(j, a) for j, a in events}))
        diagnoses: dict[int, list[Diagnosis]] = defaultdict(list)
        for d in db.session.scalars(select(Diagnosis)):
            diagnoses[d.job_id].append(d)
        checks["diagnosis drafts saved"] = (len(ledger.drafts), sum(1 for j in ledger.drafts if not diagnoses.get(j)))
        checks["signatures (key + stored object)"] = (len(ledger.signatures), sum(
            1 for j in ledger.signatures
            if not any(d.signature_key and storage.head(d.signature_key) for d in diagnoses.get(j, []))))
        checks["diagnoses submitted (job resolved)"] = (len(ledger.submitted), sum(
            1 for j in ledger.submitted
            if not any(d.status == "submitted" for d in diagnoses.get(j, [])) or jobs[j].status != "resolved"))
        photos = {p.client_key: p for p in db.session.scalars(select(Photo).where(Photo.client_key.is_not(None)))}
        checks["photos (row + its three objects)"] = (len(ledger.photos), sum(
            1 for key, job in ledger.photos.items()
            if key not in photos or photos[key].job_id != job
            or any(storage.head(k) is None for k in photos[key].keys)))
        counts = {"jobs": len(jobs), "photos": db.session.scalar(select(func.count(Photo.id))),
                  "diagnoses": sum(len(v) for v in diagnoses.values()),
                  "audit events": db.session.scalar(select(func.count(AuditEvent.id)))}
        db.session.remove()
    return checks, counts


# --- the machine ----------------------------------------------------------------------------


class CpuMeter:
    """Who used the CPUs over an interval: this run's processes, PostgreSQL, and other work.

    From /proc: system-wide busy time (/proc/stat) and each process's user+system time
    (/proc/<pid>/stat), so a figure taken while other work ran on the machine says so.
    """

    def __init__(self, ours: set[int]) -> None:
        self.ours = ours  # process group ids of this run (the client, gunicorn, weed)
        self.hz = os.sysconf("SC_CLK_TCK")
        self.start_total = self._system()
        self.start = self._processes()

    @staticmethod
    def _system() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(values), values[3] + values[4]

    @staticmethod
    def _processes() -> dict[int, tuple[str, int, int]]:
        found = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                raw = stat.read_text()
            except OSError:
                continue
            comm = raw[raw.index("(") + 1:raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2:].split()
            found[int(stat.parent.name)] = (comm, int(fields[2]), int(fields[11]) + int(fields[12]))
        return found

    def report(self) -> tuple[float, dict[str, float]]:
        """(system busy %, CPU seconds by: this run, postgres, other work)."""
        total, idle = self._system()
        d_total = total - self.start_total[0]
        busy = 100.0 * (1 - (idle - self.start_total[1]) / d_total) if d_total else 0.0
        seconds = {"this run": 0.0, "postgres": 0.0, "other work": 0.0}
        for pid, (comm, pgid, ticks) in self._processes().items():
            used = (ticks - self.start.get(pid, (comm, pgid, 0))[2]) / self.hz
            group = "this run" if pgid in self.ours else "postgres" if comm.startswith("postgres") else "other work"
            seconds[group] += max(0.0, used)
        return busy, seconds


def other_work(ours: set[int], seconds: float = 2.0) -> str:
    """Processes outside this run using more than 20% of a CPU over the next ``seconds``."""
    meter = CpuMeter(ours)
    time.sleep(seconds)
    rows = []
    hz = meter.hz
    for pid, (comm, pgid, ticks) in CpuMeter._processes().items():
        if pgid in ours:
            continue
        share = 100.0 * (ticks - meter.start.get(pid, (comm, pgid, ticks))[2]) / hz / seconds
        if share > 20:
            rows.append((share, comm))
    rows.sort(reverse=True)
    return ", ".join(f"{comm} {share:.0f}%" for share, comm in rows[:6]) or "none above 20% of a CPU"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> str:
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return (f"nproc {os.cpu_count()}, {mem_kb / 1024 / 1024:.1f} GiB RAM, {platform.platform()}, "
            f"Python {platform.python_version()}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# --- the run --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long the load runs (default 5)")
    parser.add_argument("--database-url", default=os.environ.get("SOAK_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()

    from fieldservice import create_app
    from fieldservice.devtools.seaweed import SeaweedFS

    work = Path(tempfile.mkdtemp(prefix="fs-soak-"))
    weed = SeaweedFS(work / "weed", access_key=f"SOAK{secrets.token_hex(8).upper()}", secret_key=secrets.token_urlsafe(30))
    server = None
    try:
        print(f"database {args.database_url}: recreating", flush=True)
        recreate_database(args.database_url)
        weed.start()
        settings = {
            "DATABASE_URL": args.database_url, "FIELDSERVICE_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
            "SESSION_COOKIE_SECURE": "0", "MALLOC_ARENA_MAX": "2", "S3_ENDPOINT_URL": weed.endpoint_url,
            "S3_BUCKET": "soak", "AWS_ACCESS_KEY_ID": weed.access_key, "AWS_SECRET_ACCESS_KEY": weed.secret_key,
            "PENDING_PHOTOS_DIR": str(work / "pending"),
        }
        app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url, "SECRET_KEY": settings["SECRET_KEY"],
                          "S3_ENDPOINT_URL": weed.endpoint_url, "S3_BUCKET": "soak",
                          "AWS_ACCESS_KEY_ID": weed.access_key, "AWS_SECRET_ACCESS_KEY": weed.secret_key})
        started_setup = time.perf_counter()
        people = prepare(app)
        print(f"prepared in {time.perf_counter() - started_setup:.1f} s: {len(people['technicians'])} technicians, "
              f"{len(people['dispatchers'])} dispatchers, {people['backlog']} jobs assigned", flush=True)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603 - fixed argv
            [str(Path(sys.executable).with_name("gunicorn")), *GUNICORN, "--bind", f"127.0.0.1:{port}",
             "--log-level", "warning", "app:app"],
            cwd=ROOT, env={**os.environ, **settings}, start_new_session=True,
            stdout=(work / "gunicorn.log").open("wb"), stderr=subprocess.STDOUT)
        wait_for_http(base, timeout=60)

        ledger, stop = Ledger(), threading.Event()
        photo, signature = small_photo(), signature_png()
        # Process groups of this run: the client, gunicorn (its own session) and weed (its own).
        ours = {os.getpgid(0), server.pid, weed._process.pid if weed._process else -1}
        load_before, other_before = loadavg(), other_work(ours)
        threads = [threading.Thread(target=dispatcher, args=(base, name, region_id, techs, ledger, stop), daemon=True)
                   for name, region_id, techs in people["dispatchers"]]
        threads += [threading.Thread(target=technician, args=(base, name, people["fault_id"], photo, signature,
                                                              ledger, stop), daemon=True)
                    for name in people["technicians"]]
        print(f"load: {len(threads)} people for {args.minutes:g} min (load average before: {load_before}; "
              f"other work: {other_before})", flush=True)
        cpu = CpuMeter(ours)
        started = time.perf_counter()
        for t in threads:
            t.start()
            time.sleep(0.02)  # people sign in over a second, not all at one instant
        deadline = started + args.minutes * 60
        loads = []
        while time.perf_counter() < deadline:
            time.sleep(min(15.0, max(0.0, deadline - time.perf_counter())))
            loads.append(loadavg().split()[0])
            done = sum(len(v) for v in ledger.timings.values())
            print(f"  {time.perf_counter() - started:5.0f} s: {done} requests, "
                  f"{sum(n for s, n in ledger.statuses.items() if not isinstance(s, int) or s >= 500)} server errors, "
                  f"load {loads[-1]}", flush=True)
        stop.set()
        for t in threads:
            t.join(timeout=120)
        elapsed = time.perf_counter() - started
        cpu_busy = cpu.report()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        server = None

        checks, counts = check_records(app, ledger)
        report = summarize(args, ledger, elapsed, checks, counts, load_before, other_before, loads, cpu_busy,
                           people, work)
        print(report)
        if not args.no_record:
            record(report)
            print(f"appended to {RESULTS.relative_to(ROOT)}")
        server_errors = sum(n for s, n in ledger.statuses.items() if not isinstance(s, int) or s >= 500)
        missing = sum(m for _, m in checks.values())
        return 0 if server_errors == 0 and missing == 0 and not ledger.unexpected else 1
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGKILL)
        weed.stop()
        shutil.rmtree(work, ignore_errors=True)


def summarize(args, ledger: Ledger, elapsed: float, checks, counts, load_before, other_before, loads, cpu_busy,
              people, work: Path) -> str:
    all_times = [t for values in ledger.timings.values() for t in values]
    total = len(all_times) + ledger.statuses.get("no answer", 0)
    server_errors = sum(n for s, n in ledger.statuses.items() if not isinstance(s, int) or s >= 500)
    missing = sum(m for _, m in checks.values())
    ms = lambda s: f"{s * 1000:.0f}"  # noqa: E731
    now = datetime.now(UTC)
    busy_percent, cpu_seconds = cpu_busy
    cores = os.cpu_count() or 1
    busy = cpu_seconds["other work"] > 0.1 * elapsed * cores or not other_before.startswith("none")
    lines = [
        f"### Run of {now:%Y-%m-%d %H:%M} UTC ({args.minutes:g} min)",
        "",
        f"- Date: `{now:%a %b %d %H:%M:%S UTC %Y}`; machine: {machine()}",
        f"- Server: gunicorn `{' '.join(GUNICORN)}` (gthread, MALLOC_ARENA_MAX=2) on loopback; PostgreSQL "
        f"`{args.database_url.rsplit('/', 1)[1]}` (new, migrated; {people['backlog']} jobs assigned at the start; "
        f"at the end {counts['jobs']} jobs, {counts['diagnoses']} diagnoses, {counts['photos']} photos, "
        f"{counts['audit events']} audit events); SeaweedFS of its own (`weed mini`)",
        f"- Load: {len(people['technicians'])} technicians + {len(people['dispatchers'])} dispatchers, think time "
        f"{THINK_SECONDS[0]}-{THINK_SECONDS[1]} s, a new connection per request; photo {len(small_photo()) // 1024} KB JPEG",
        f"- Machine: load average before `{load_before}` (other work then: {other_before}); during the run "
        f"{', '.join(loads)}; CPUs busy {busy_percent:.0f}% over the run ({cores} cores × {elapsed:.0f} s = "
        f"{cores * elapsed:.0f} CPU-s: this run's processes {cpu_seconds['this run']:.0f} s, PostgreSQL (all "
        f"databases) {cpu_seconds['postgres']:.0f} s, other work {cpu_seconds['other work']:.0f} s)"
        + (" — **the machine was busy with other work: latencies are higher than on a quiet machine**" if busy else ""),
        "",
        f"**{total} requests in {elapsed:.0f} s ({total / elapsed:.1f}/s); p50 {ms(percentile(all_times, 50))} ms, "
        f"p95 {ms(percentile(all_times, 95))} ms, p99 {ms(percentile(all_times, 99))} ms; "
        f"server errors (5xx or no answer): {server_errors}"
        f"{' ✅' if server_errors == 0 else ' ❌'}; other unexpected answers: {len(ledger.unexpected) - server_errors}; "
        f"records missing: {missing}{' ✅' if missing == 0 else ' ❌'}**",
        "",
        "| request | count | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for kind in sorted(ledger.timings):
        values = ledger.timings[kind]
        lines.append(f"| {kind} | {len(values)} | {ms(percentile(values, 50))} | {ms(percentile(values, 95))} | "
                     f"{ms(max(values))} |")
    lines += ["", "| records the clients were told were created | created | missing in the database |", "|---|---|---|"]
    lines += [f"| {name} | {created} | {missing_n} |" for name, (created, missing_n) in checks.items()]
    statuses = ", ".join(f"{s}: {n}" for s, n in sorted(ledger.statuses.items(), key=lambda kv: str(kv[0])))
    lines += ["", f"Statuses: {statuses}."]
    if ledger.unexpected:
        lines.append("Unexpected answers (first 5): " + "; ".join(
            f"{kind} → {status} `{text[:80]!r}`" for kind, status, text in ledger.unexpected[:5]))
    return "\n".join(lines) + "\n"


def record(report: str) -> None:
    header = "## Load run (bench/soak.py)"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    intro = ""
    if header not in text:
        intro = (f"\n{header}\n\nIssue 7: 50 simulated technicians and 5 dispatchers work for 5 minutes against "
                 "gunicorn on loopback (PostgreSQL, a SeaweedFS of the run's own): dispatchers log and assign "
                 "requests; technicians open My jobs, start travel, check in, save diagnosis drafts, upload a "
                 "small photo and the contact's signature, and submit. Target: zero server errors, and every "
                 "record the clients were told was created present in the database. Run: `make soak` "
                 "(`python bench/soak.py --minutes 1` for a short run).\n")
    with RESULTS.open("a") as out:
        out.write(f"{intro}\n{report}")


if __name__ == "__main__":
    sys.exit(main())
