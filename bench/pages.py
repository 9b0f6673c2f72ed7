"""Benchmark: latency and throughput of the main pages under gunicorn on PostgreSQL (issue 7).
Not a test: it records numbers in bench/RESULTS.md.

The app runs under gunicorn (bench/wsgi.py: the real app, plus a bare Flask endpoint under
/_bare mounted next to it with werkzeug's DispatcherMiddleware: the ceiling of the stack,
measured in the same run on the same server). Virtual users sign in once each with the real
login form (CSRF token, session cookie), then request one page in a loop over a persistent
HTTP/1.1 connection (http.client); latency is measured by the client, from sending the request
to the last byte of the body. Each page is measured at concurrency 1 and 16, after a warm-up.
The client runs in a few processes (threads in each), so the client's GIL is not the limit.

Pages, each with the role that uses it (ids found in the database, read-only):
  technician: My jobs, job page (each virtual user a different technician, their own job);
  dispatcher: dispatch board of the region with the most technicians, unassigned queue;
  reviewer: claim review queue, the claim page with the most photos (12 wanted);
  reports: the ledger with filters (region, fault group, last 90 days), the weekly summary
  (last full week), the supervisor dashboard.
Targets: technician/dispatcher pages within 3x the bare endpoint's p95, reviewer and report
pages within 10x, none over 150 ms p95 at concurrency 16.

Run:  python bench/pages.py [--database-url URL] [--duration S] [--no-record] [--profile N]
Database: --database-url, else $BENCH_DATABASE_URL, else fs_bulk on the local PostgreSQL when its
seeding has finished (1,000,000 jobs: `flask seed-bulk --jobs 1000000 --technicians 500`), else
fs_bench (e.g. `createdb fs_bench`, `flask db upgrade`, `flask seed-bulk --jobs 20000`).
The pages write nothing but what signing in writes. --profile N measures no load: it counts the
SQL statements of one request of each page and profiles N requests with pyinstrument.
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import platform
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "RESULTS.md"
PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
LANGUAGE = "zh-CN"  # the centre's language (the app's default)

TARGET_FACTOR = {"technician": 3, "dispatcher": 3, "reviewer": 10, "report": 10}
TARGET_P95_MS_AT_16 = 150
CLIENT_TIMEOUT = 120


@dataclass
class Page:
    label: str
    kind: str               # technician | dispatcher | reviewer | report | bare
    role: str               # who signs in for it ("" for the bare endpoint)
    paths: list[str]        # one per virtual user (cycled when fewer)
    note: str = ""


@dataclass
class Result:
    page: Page
    concurrency: int
    latencies_ms: list[float]
    seconds: float
    errors: int
    statuses: dict = field(default_factory=dict)
    load_after: str = ""

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return float("nan")
        index = min(len(data) - 1, max(0, round(q / 100 * len(data) + 0.5) - 1))
        return data[index]

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds


# --- the data: who and what to ask for ---------------------------------------------------


def default_database_url() -> str:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG + "postgres")
        with engine.connect() as conn:
            names = set(conn.scalars(text("SELECT datname FROM pg_database")))
        engine.dispose()
    except Exception:  # noqa: BLE001 - no server: let the caller say which database
        return PG + "fs_bench"
    return PG + ("fs_bulk" if "fs_bulk" in names and bulk_ready(PG + "fs_bulk") else "fs_bench")


def bulk_ready(url: str) -> bool:
    """fs_bulk is done: no `flask seed-bulk` running and its jobs table holds ~1,000,000 rows."""
    from sqlalchemy import create_engine, text

    if subprocess.run(["pgrep", "-f", "seed-bulk"], capture_output=True).returncode == 0:
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return (conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'jobs'")).scalar() or 0) > 900_000
    except Exception:  # noqa: BLE001 - not built yet
        return False
    finally:
        engine.dispose()


def discover(url: str, virtual_users: int) -> tuple[list[Page], dict, dict]:
    """The pages to ask for, the users to sign in as (per role) and the data size; read-only."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        one = lambda sql, **kw: conn.execute(text(sql), kw).first()  # noqa: E731
        scalar = lambda sql, **kw: conn.execute(text(sql), kw).scalar()  # noqa: E731
        region_id, region_techs = one(
            "SELECT region_id, count(*) FROM users WHERE role = 'technician' AND active "
            "GROUP BY region_id ORDER BY count(*) DESC, region_id LIMIT 1")
        # Technicians of that region with the most open jobs (their My jobs page is the fullest).
        technicians = conn.execute(text(
            "SELECT u.username, (SELECT j.id FROM jobs j WHERE j.technician_id = u.id "
            "   AND j.status IN ('assigned', 'en_route', 'on_site') ORDER BY j.id DESC LIMIT 1) "
            "FROM users u WHERE u.role = 'technician' AND u.active AND u.region_id = :r "
            "ORDER BY (SELECT count(*) FROM jobs j WHERE j.technician_id = u.id "
            "   AND j.status IN ('assigned', 'en_route', 'on_site')) DESC, u.id LIMIT :n"),
            {"r": region_id, "n": virtual_users}).all()
        technicians = [(name, job) for name, job in technicians if job is not None]
        dispatcher = scalar("SELECT username FROM users WHERE role = 'dispatcher' AND active "
                            "ORDER BY (region_id = :r) DESC, id LIMIT 1", r=region_id)
        reviewer = scalar("SELECT username FROM users WHERE role = 'reviewer' AND active ORDER BY id LIMIT 1")
        supervisor = scalar("SELECT username FROM users WHERE role = 'supervisor' AND active ORDER BY id LIMIT 1")
        claim_id, claim_photos = one(
            "SELECT claim_id, count(*) FROM claim_evidence GROUP BY claim_id "
            "ORDER BY abs(count(*) - 12), claim_id DESC LIMIT 1") or (None, 0)
        fault_group = scalar("SELECT id FROM fault_categories WHERE parent_id IS NULL ORDER BY position, id LIMIT 1")
        size = {
            "jobs": scalar("SELECT count(*) FROM jobs"),
            "diagnoses": scalar("SELECT count(*) FROM diagnoses"),
            "photos": scalar("SELECT count(*) FROM photos"),
            "claims": scalar("SELECT count(*) FROM claims"),
            "customers": scalar("SELECT count(*) FROM customers"),
            "technicians": scalar("SELECT count(*) FROM users WHERE role = 'technician'"),
            "regions": scalar("SELECT count(*) FROM regions"),
            "database": scalar("SELECT pg_size_pretty(pg_database_size(current_database()))"),
            "server": scalar("SHOW server_version"),
        }
    engine.dispose()
    today = date.today()
    last_week = today - timedelta(days=7)
    year, week, _ = last_week.isocalendar()
    ledger_query = urllib.parse.urlencode({"region": region_id, "fault": fault_group or "",
                                           "from": (today - timedelta(days=90)).isoformat(), "to": today.isoformat()})
    pages = [
        Page("Bare Flask endpoint (before)", "bare", "", ["/_bare/"]),
        Page("My jobs (technician)", "technician", "technician", ["/my-jobs"],
             f"{len(technicians)} technicians of the region, each their own"),
        Page("Job page (technician)", "technician", "technician", [f"/jobs/{job}" for _, job in technicians],
             "each technician's latest open job"),
        Page("Dispatch board", "dispatcher", "dispatcher", [f"/dispatch/board?region={region_id}"],
             f"region of {region_techs} technicians, today"),
        Page("Unassigned queue", "dispatcher", "dispatcher", ["/dispatch/queue"], "all regions, first page"),
        Page("Claim review queue", "reviewer", "reviewer", ["/claims"], "reviewer's default view, first page"),
        Page("Claim page", "reviewer", "reviewer", [f"/claims/{claim_id}"], f"{claim_photos} photos as evidence"),
        Page("Ledger with filters", "report", "supervisor", [f"/ledger?{ledger_query}"],
             "region, fault group, last 90 days; first page"),
        Page("Weekly summary", "report", "supervisor", [f"/statistics/weekly?week={year}-W{week:02d}"],
             f"{year}-W{week:02d}"),
        Page("Supervisor dashboard", "report", "supervisor", ["/dashboard"]),
        Page("Bare Flask endpoint (after)", "bare", "", ["/_bare/"]),
    ]
    users = {"technician": [name for name, _ in technicians], "dispatcher": [dispatcher],
             "reviewer": [reviewer], "supervisor": [supervisor]}
    if claim_id is None:
        pages = [p for p in pages if p.label != "Claim page"]
    size["region_technicians"] = region_techs
    return pages, users, size


# --- the server --------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """gunicorn serving bench.wsgi:application (the app + the bare endpoint)."""

    def __init__(self, database_url: str, workers: int, threads: int) -> None:
        self.port = free_port()
        self.workers, self.threads = workers, threads
        self.env = {
            **os.environ, "DATABASE_URL": database_url, "FIELDSERVICE_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32), "SESSION_COOKIE_SECURE": "0", "MALLOC_ARENA_MAX": "2",
            # Photo links are presigned (computed, not fetched): an address is all it needs.
            "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL", "http://127.0.0.1:8333"),
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "bench"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "bench-secret"),
        }
        self.process: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        return [str(Path(sys.executable).with_name("gunicorn")), "--workers", str(self.workers),
                "--threads", str(self.threads), "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning",
                "--keep-alive", "30", "bench.wsgi:application"]

    def __enter__(self) -> "Server":
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _, _ = request("127.0.0.1", self.port, "GET", "/healthz")
                if status == 200:
                    return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=30)


def request(host: str, port: int, method: str, path: str, body: str | None = None,
            cookies: dict | None = None) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Accept-Language": LANGUAGE}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    for name, value in response.getheaders():
        if name.lower() == "set-cookie" and cookies is not None:
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            cookies[key.strip()] = val.strip()
    conn.close()
    return response.status, dict(response.getheaders()), text


def sign_in(port: int, username: str, password: str) -> str:
    """The real login form: GET /login for the CSRF token, POST it back; the session cookie."""
    cookies: dict[str, str] = {}
    _, _, html = request("127.0.0.1", port, "GET", "/login", cookies=cookies)
    token = CSRF_RE.search(html).group(1)
    body = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token})
    status, _, _ = request("127.0.0.1", port, "POST", "/login", body=body, cookies=cookies)
    if status != 303:
        raise RuntimeError(f"signing in as {username} answered {status} (password? --password)")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


# --- the load ----------------------------------------------------------------------------


def _virtual_user(port: int, path: str, cookie: str, start: float, warm_until: float, stop: float,
                  latencies: list, counts: dict, lock: threading.Lock) -> None:
    headers = {"Accept-Language": LANGUAGE, "Cookie": cookie} if cookie else {"Accept-Language": LANGUAGE}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    mine: list[float] = []
    last_end = warm_until
    statuses: dict[int, int] = {}
    while time.perf_counter() < start:
        time.sleep(0.001)
    while True:
        began = time.perf_counter()
        if began >= stop:
            break
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            if response.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
        ended = time.perf_counter()
        # Every request begun in the measured window counts, however long it takes to end
        # (a slow page would otherwise have no sample at all at concurrency 16).
        if began >= warm_until:
            statuses[status] = statuses.get(status, 0) + 1
            last_end = max(last_end, ended)
            if status == 200:
                mine.append((ended - began) * 1000)
    conn.close()
    with lock:
        latencies.extend(mine)
        counts["last_end"] = max(counts.get("last_end", 0.0), last_end - warm_until)
        for status, n in statuses.items():
            if status != "last_end":
                counts[status] = counts.get(status, 0) + n


def _client_process(port: int, users: list[tuple[str, str]], start_wall: float, warmup: float,
                    duration: float, out) -> None:
    """One client process: a thread per virtual user; sends back latencies and status counts."""
    offset = time.perf_counter() - time.time()
    start = start_wall + offset
    latencies: list[float] = []
    counts: dict[int, int] = {}
    lock = threading.Lock()
    threads = [threading.Thread(target=_virtual_user, args=(port, path, cookie, start, start + warmup,
                                                            start + warmup + duration, latencies, counts, lock))
               for path, cookie in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.send((latencies, counts))
    out.close()


def run_load(port: int, users: list[tuple[str, str]], warmup: float, duration: float,
             processes: int) -> tuple[list[float], dict]:
    ctx = mp.get_context("fork")
    slices = [users[i::processes] for i in range(min(processes, len(users)))]
    start_wall = time.time() + 0.5
    pipes, procs = [], []
    for part in slices:
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_client_process, args=(port, part, start_wall, warmup, duration, send))
        proc.start()
        send.close()
        pipes.append(receive)
        procs.append(proc)
    latencies: list[float] = []
    counts: dict[int, int] = {}
    for receive in pipes:
        part_latencies, part_counts = receive.recv()
        latencies += part_latencies
        for status, n in part_counts.items():
            counts[status] = max(counts.get(status, 0), n) if status == "last_end" else counts.get(status, 0) + n
    for proc in procs:
        proc.join()
    return latencies, counts


# --- report ------------------------------------------------------------------------------


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def busy_processes() -> str:
    """Other work on the machine right now (processes using more than 20% of a CPU)."""
    out = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"],
                         capture_output=True, text=True).stdout.splitlines()
    busy = [line.split(None, 1) for line in out if line.strip() and float(line.split()[0]) > 20]
    return ", ".join(f"{name.strip()} {cpu}%" for cpu, name in busy[:6]) or "none above 20% CPU"


def machine() -> str:
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    return f"`{uname}`; nproc {os.cpu_count()}; {mem_kb / 1024 / 1024:.1f} GiB RAM; Python {platform.python_version()}"


def verdict(result: Result, bare_p95: float) -> tuple[str, bool]:
    kind = result.page.kind
    if kind == "bare":
        return "", True
    p95 = result.pct(95)
    factor = TARGET_FACTOR[kind]
    ok = p95 <= factor * bare_p95 and result.errors == 0
    if result.concurrency >= 16:
        ok = ok and p95 <= TARGET_P95_MS_AT_16
    limit = f"≤ {factor}× bare ({factor * bare_p95:.1f} ms)"
    if result.concurrency >= 16:
        limit += f" and ≤ {TARGET_P95_MS_AT_16} ms"
    return f"{p95 / bare_p95:.1f}× bare; target {limit}", ok


def report(results: list[Result], context: dict) -> str:
    out = [f"### Run of {context['when']}", "",
           f"- Date: `{context['when']}`",
           f"- Machine: {context['machine']}",
           f"- Server: gunicorn {context['gunicorn']} (gthread) `--workers {context['workers']} --threads "
           f"{context['threads']}` (the README's production setting; 16 request slots for 16 users), "
           "FIELDSERVICE_ENV=production, MALLOC_ARENA_MAX=2; bench/wsgi.py (app + bare endpoint)",
           f"- Database: PostgreSQL {context['size']['server']} on loopback, `{context['database']}` "
           f"({context['size']['database']}): {context['size']['jobs']:,} jobs, "
           f"{context['size']['diagnoses']:,} diagnoses, {context['size']['photos']:,} photos, "
           f"{context['size']['claims']:,} claims, {context['size']['customers']:,} customers, "
           f"{context['size']['technicians']:,} technicians in {context['size']['regions']} regions",
           f"- Client: Python http.client, persistent connections, {context['processes']} client processes on "
           f"the same machine; each virtual user signed in once with the login form; Accept-Language {LANGUAGE}; "
           f"{context['warmup']:.0f} s warm-up then {context['duration']:.0f} s measured per page and concurrency",
           f"- Machine load: before the run `{context['uptime_before']}` (other work: {context['busy_before']}); "
           f"after it `{context['uptime_after']}`",
           ""]
    for concurrency in context["concurrencies"]:
        at = [r for r in results if r.concurrency == concurrency]
        bares = [r for r in at if r.page.kind == "bare"]
        bare_p95 = max(r.pct(95) for r in bares)
        out += [f"**Concurrency {concurrency}** (bare endpoint p95 used as the ceiling: {bare_p95:.1f} ms, "
                f"the worse of before and after; load average after this pass: {at[-1].load_after})", "",
                "| page | n | p50 ms | p95 ms | p99 ms | req/s | errors | p95 vs target |",
                "|---|---|---|---|---|---|---|---|"]
        for r in at:
            text, ok = verdict(r, bare_p95)
            note = f" ({r.page.note})" if r.page.note else ""
            mark = "" if r.page.kind == "bare" else (" ✅" if ok else " ❌")
            out.append(f"| {r.page.label}{note} | {len(r.latencies_ms)} | {r.pct(50):.1f} | **{r.pct(95):.1f}** | {r.pct(99):.1f} | "
                       f"{r.throughput:.0f} | {r.errors} | {text}{mark} |")
        out.append("")
    return "\n".join(out) + "\n"


SECTION = "## Page latency (bench/pages.py)"
SECTION_INTRO = """
Issue 7: the main pages under gunicorn on PostgreSQL, at concurrency 1 and 16, next to a bare
Flask endpoint on the same server in the same run (the ceiling of this stack). Targets:
technician and dispatcher pages within 3x the bare endpoint's p95, reviewer and report pages
within 10x, none over 150 ms p95 at concurrency 16. Run: `python bench/pages.py`.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="default: fs_bulk if it exists, else fs_bench")
    parser.add_argument("--password", default=None, help="password of the seeded accounts")
    parser.add_argument("--duration", type=float, default=20, help="seconds measured per page and concurrency")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--only", help="comma-separated words: measure only pages whose label has one")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    parser.add_argument("--profile", type=int, metavar="N", default=0,
                        help="no load: count SQL per request and profile N requests of each page (pyinstrument)")
    parser.add_argument("--explain", type=int, metavar="K", default=0,
                        help="with --profile: EXPLAIN ANALYZE the K slowest statements of each page")
    args = parser.parse_args()

    database_url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or default_database_url()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    try:
        pages, users, size = discover(database_url, max(concurrencies))
    except Exception as error:  # noqa: BLE001 - no database yet: say how to make one
        raise SystemExit(f"bench/pages.py: cannot read {database_url} ({type(error).__name__}). Build a database "
                         "first: createdb fs_bench; DATABASE_URL=... flask --app app db upgrade; "
                         "flask --app app seed-bulk --jobs 20000 --technicians 100 --weeks 8") from None
    if args.only:
        words = [w.strip().lower() for w in args.only.split(",")]
        pages = [p for p in pages if p.kind == "bare" or any(w in p.label.lower() for w in words)]
    if args.profile:
        profile(database_url, pages, users, [args.password] if args.password else seed_passwords(), args.profile,
                args.explain)
        return
    context = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
               "database": database_url.rsplit("/", 1)[-1], "size": size, "workers": args.workers,
               "threads": args.threads, "processes": args.client_processes, "duration": args.duration,
               "warmup": args.warmup, "concurrencies": concurrencies,
               "uptime_before": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
               "busy_before": busy_processes(),
               "gunicorn": subprocess.run([str(Path(sys.executable).with_name("gunicorn")), "--version"],
                                          capture_output=True, text=True).stdout.split()[-1].strip(")")}
    print(f"database {context['database']}: {size}", flush=True)
    results: list[Result] = []
    with Server(database_url, args.workers, args.threads) as server:
        password = args.password or find_password(server.port, users["supervisor"][0], seed_passwords())
        sessions: dict[str, list[str]] = {}
        for role, names in users.items():
            # One sign-in per virtual user; a role with one account signs it in once per user.
            sessions[role] = [sign_in(server.port, names[i % len(names)], password)
                              for i in range(max(concurrencies))]
        for concurrency in concurrencies:
            for page in pages:
                vus = [(page.paths[i % len(page.paths)], sessions[page.role][i] if page.role else "")
                       for i in range(concurrency)]
                latencies, counts = run_load(server.port, vus, args.warmup, args.duration,
                                             min(args.client_processes, concurrency))
                seconds = max(args.duration, counts.pop("last_end", 0.0))
                result = Result(page, concurrency, latencies, seconds,
                                sum(n for s, n in counts.items() if s != 200), counts, loadavg())
                results.append(result)
                print(f"c={concurrency:<3} {page.label:<32} p50 {result.pct(50):7.1f}  p95 {result.pct(95):7.1f}  "
                      f"p99 {result.pct(99):7.1f} ms  {result.throughput:6.0f} req/s  statuses {counts}", flush=True)
    context["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    text = report(results, context)
    print(text)
    if not args.no_record:
        from page_weight import record  # noqa: E402 - bench/ is the script's own directory

        record(text, SECTION, SECTION_INTRO)
        print(f"Appended to {RESULTS}")


def profile(database_url: str, pages: list[Page], users: dict, passwords: list[str], repeat: int,
            explain: int = 0) -> None:
    """Why a page costs what it costs: SQL statements per request, time in SQL, and a
    pyinstrument profile of `repeat` requests, in-process (the app's test client, no server)."""
    from flask import template_rendered
    from pyinstrument import Profiler
    from sqlalchemy import event

    os.environ.setdefault("S3_ENDPOINT_URL", "http://127.0.0.1:8333")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench-secret")
    from fieldservice import create_app
    from fieldservice.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secrets.token_hex(32)})
    statements: list[tuple[str, object, float]] = []
    templates: list[str] = []

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        started = conn.info["bench_started"].pop()
        statements.append((statement, parameters, (time.perf_counter() - started) * 1000))

    template_rendered.connect(lambda sender, template, context, **kw: templates.append(template.name), app)
    clients = {}
    for page in pages:
        if page.kind == "bare":
            continue
        if page.role not in clients:
            client = app.test_client()
            client.environ_base["HTTP_ACCEPT_LANGUAGE"] = LANGUAGE
            html = client.get("/login").get_data(as_text=True)
            for password in passwords:
                response = client.post("/login", data={"username": users[page.role][0], "password": password,
                                                       "csrf_token": CSRF_RE.search(html).group(1)})
                if response.status_code == 303:
                    break
            clients[page.role] = client
        client = clients[page.role]
        path = page.paths[0]
        for _ in range(3):
            assert client.get(path).status_code == 200, path
        statements.clear()
        templates.clear()
        started = time.perf_counter()
        response = client.get(path)
        total = (time.perf_counter() - started) * 1000
        sql_ms = sum(ms for _, _, ms in statements)
        print(f"\n=== {page.label}: {path}\n{len(statements)} SQL statements, {sql_ms:.1f} ms in SQL of "
              f"{total:.1f} ms; {len(response.get_data())} bytes; {len(templates)} templates rendered")
        slowest = sorted(statements, key=lambda item: -item[2])[:5]
        for statement, _, ms in slowest:
            print(f"  {ms:7.2f} ms  {' '.join(statement.split())[:220]}")
        if explain:
            with app.app_context(), db.engine.connect() as conn:
                for statement, parameters, ms in slowest[:explain]:
                    if statement.lstrip().upper().startswith("SELECT") and ms >= 2:
                        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars()
                        print(f"\n  EXPLAIN of the {ms:.1f} ms statement:\n  {' '.join(statement.split())[:2000]}\n"
                              f"  parameters {parameters}\n    " + "\n    ".join(plan))
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(repeat):
            client.get(path)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False, short_mode=True)[:6000])


def seed_passwords() -> list[str]:
    """The password `flask seed-bulk` gives its accounts, and the demo data's."""
    from fieldservice.demo import DEMO_PASSWORD

    try:
        from fieldservice.devtools.bulk import BULK_PASSWORD
    except ImportError:
        return [DEMO_PASSWORD]
    return [BULK_PASSWORD, DEMO_PASSWORD]


def find_password(port: int, username: str, candidates: list[str]) -> str:
    for password in candidates:
        try:
            sign_in(port, username, password)
            return password
        except RuntimeError:
            continue
    raise RuntimeError(f"none of the known passwords signs {username} in: give --password")


if __name__ == "__main__":
    main()
