"""Benchmark: the plans of the heaviest queries on a big database (issue 7). Not a test.

Each case calls the app's own operations function (and the capped paginate where the page does), records
the SQL statements it sends (with their parameters, via SQLAlchemy's before_cursor_execute
event), and runs each again as EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL. The statement (made
literal with psycopg2's mogrify) and its plan, trimmed, go to bench/RESULTS.md with the timings;
a plan that still reads a whole table (Seq Scan) is listed with the reason written in NOTES.

Run against a database built by `flask db upgrade` and `flask seed-bulk` (e.g. fs_bulk):
    DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1/fs_bulk python bench/explain.py [--no-record]
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "RESULTS.md"
PLAN_LINES = int(os.environ.get("EXPLAIN_PLAN_LINES", 18))  # lines of each plan kept in RESULTS.md
SQL_CHARS = 600  # characters of each statement kept

# Why a plan may still read a whole table: written next to the case in RESULTS.md. "Seq Scan on
# regions / fault_categories / users / suggestions / performance_records" everywhere: tables of
# 10-530 rows (one or two pages), which PostgreSQL rightly reads whole.
_COUNT = ("The list's count is capped (fieldservice/pagination.py: count of LIMIT LIST_COUNT_CAP+1), "
          "so it reads at most 1,001 rows; before the cap it counted every matching row.")
_REGION = ("The region is a column of jobs: the capped count walks the period's ledger rows newest first "
           "and looks up each one's job until 1,001 match (~10,000 lookups, 40-100 ms). A region column "
           "on diagnoses (copied from the job) would make it an index range: 0.6-6.7 ms measured on a "
           "copy of this database; not done (a denormalised column to keep in step). " + _COUNT)
NOTES: dict[str, str] = {
    "Jobs list, newest first (recent_jobs)": "Page: ix_jobs_created backwards, 25 rows. " + _COUNT,
    "Jobs list, page 400 (recent_jobs)": "OFFSET 9,975 walks 10,000 entries of ix_jobs_created. " + _COUNT,
    "Ledger, no filter (ledger_page)": "Page: ix_diagnoses_ledger backwards; jobs and products are joined "
    "only for a region or model filter. " + _COUNT + " Here ~680,000 ledger rows.",
    "Ledger, last 4 weeks + region (ledger_page)": _REGION,
    "Ledger, last 90 days + region + fault group (ledger_page; the page benchmark's filter)": _REGION
    + " The fault group is a list of its faults' ids (ix_diagnoses_ledger includes fault_category_id).",
    "Ledger, fault group + outcome (ledger_page)": "outcome is not indexed on purpose (85% of rows are "
    "'fixed': not selective); a group is ~1/6 of all rows. " + _COUNT,
    "Ledger, exact product model (ledger_page)": "One model of 20 is ~1/20 of all ledger rows (~34,000): "
    "a hash join over jobs is the cheapest way to count them. " + _COUNT,
    "Follow-up calls, done (follow_ups_query)": "Page: ix_follow_ups_status_called, 25 rows. " + _COUNT
    + " Here ~950,000 calls made.",
    "Fault statistics, 8 weeks by group (fault_counts)": "Counts ~100,000 ledger rows (8 weeks): the "
    "period comes from ix_diagnoses_ledger, the join to jobs is an index-only hash join. The "
    "dashboard's charts keep their figures DASHBOARD_CHARTS_TTL (60 s) per worker and language.",
    "Fault statistics, 8 weeks by model (fault_counts)": "As by group, plus products (200,000 rows) "
    "hashed for the model names.",
    "Performance candidates, this quarter (performance_candidates)": "customers (125,000) is hashed for "
    "joinedload(Complaint.customer) of the quarter's ~7,000 complaints: cheaper than 7,000 lookups.",
    "Supervisor dashboard counts (dashboard_counts)": "Includes performance_candidates (see above).",
}


@dataclass
class Statement:
    sql: str
    params: object
    literal: str = ""
    plan: list[str] = field(default_factory=list)
    execution_ms: float = 0.0
    planning_ms: float = 0.0
    seq_scans: list[str] = field(default_factory=list)


@dataclass
class Case:
    name: str
    statements: list[Statement]
    wall_ms: float


def _capture(engine, call) -> tuple[list[Statement], float]:
    from sqlalchemy import event

    captured: list[Statement] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        captured.append(Statement(statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    started = time.perf_counter()
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return captured, (time.perf_counter() - started) * 1000


def _explain(raw, statement: Statement) -> None:
    cursor = raw.cursor()
    statement.literal = cursor.mogrify(statement.sql, statement.params).decode()
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.params)
    statement.plan = [row[0] for row in cursor.fetchall()]
    cursor.close()
    raw.rollback()
    for line in statement.plan:
        if m := re.match(r"\s*Planning Time: ([\d.]+) ms", line):
            statement.planning_ms = float(m.group(1))
        elif m := re.match(r"\s*Execution Time: ([\d.]+) ms", line):
            statement.execution_ms = float(m.group(1))
        elif m := re.search(r"Seq Scan on (\w+)", line):
            statement.seq_scans.append(m.group(1))


def cases(now: datetime):
    """(name, function) for each query to explain; each function calls the app's operations."""
    from sqlalchemy import func, select

    from fieldservice.blueprints.claims import operations as claims
    from fieldservice.blueprints.complaints import operations as complaints
    from fieldservice.blueprints.dispatch import operations as dispatch
    from fieldservice.blueprints.inspections import operations as inspections
    from fieldservice.blueprints.ledger import operations as ledger
    from fieldservice.blueprints.performance import operations as performance
    from fieldservice.blueprints.statistics import operations as statistics
    from fieldservice.extensions import db
    from fieldservice.models import Complaint, FaultCategory, Job, Product, User
    from fieldservice.pagination import paginate
    from fieldservice.services.periods import iso_week, shift_week

    per_page = 25
    # The busiest region, a technician of it with open jobs, a reviewer, a supervisor.
    region_id = db.session.scalar(select(Job.region_id).group_by(Job.region_id)
                                  .order_by(func.count().desc()).limit(1))
    technician = db.session.scalar(
        select(User).join(Job, Job.technician_id == User.id)
        .where(Job.status.in_(("assigned", "en_route", "on_site")), User.region_id == region_id)
        .group_by(User.id).order_by(func.count().desc()).limit(1))
    reviewer = db.session.scalar(select(User).where(User.role == "reviewer").limit(1))
    supervisor = db.session.scalar(select(User).where(User.role == "supervisor").limit(1))
    model = db.session.scalar(select(Product.model).group_by(Product.model).order_by(func.count().desc()).limit(1))
    group = db.session.scalar(select(FaultCategory.id).where(FaultCategory.parent_id.is_(None))
                              .order_by(FaultCategory.position).limit(1))
    repeat = db.session.scalar(select(Complaint).where(Complaint.escalated.is_(True))
                               .order_by(Complaint.id.desc()).limit(1))
    zone_today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    last_week = shift_week(statistics.current_week(), -1)
    first8, last8 = statistics.default_fault_period(8)
    start8, end8 = iso_week(first8).start_dt, iso_week(last8).end_dt
    four_weeks_ago = (now - timedelta(weeks=4)).date()

    def page(stmt, number=1):
        return lambda: paginate(stmt, number, per_page).items

    yield "My jobs (technician_jobs)", lambda: dispatch.technician_jobs(technician)
    yield "Unassigned queue (unassigned_jobs)", lambda: dispatch.unassigned_jobs(page=1, per_page=per_page).items
    yield "Unassigned queue of a region", lambda: dispatch.unassigned_jobs(region_id=region_id, per_page=per_page).items
    yield "Dispatch board, region of ~50 technicians, today (board_jobs)", \
        lambda: dispatch.board_jobs(region_id, zone_today, zone_today + timedelta(days=1), True)
    yield "Jobs list, newest first (recent_jobs)", lambda: dispatch.recent_jobs(supervisor, page=1).items
    yield "Jobs list, status=resolved (recent_jobs)", lambda: dispatch.recent_jobs(supervisor, "resolved").items
    yield "Jobs list, page 400 (recent_jobs)", lambda: dispatch.recent_jobs(supervisor, page=400).items
    yield "Claim review queue (claims_query, reviewer default)", \
        page(claims.claims_query(reviewer, claims.ClaimFilters()))
    yield "Claims of a region, all statuses (claims_query)", \
        page(claims.claims_query(supervisor, claims.ClaimFilters(region_id=region_id, status="all")))
    yield "Claim badge (review_queue_count)", claims.review_queue_count
    yield "Ledger, no filter (ledger_page)", lambda: ledger.ledger_page(ledger.LedgerFilters(), 1, per_page).items
    yield "Ledger, last 4 weeks + region (ledger_page)", lambda: ledger.ledger_page(
        ledger.LedgerFilters(date_from=four_weeks_ago, region_id=region_id), 1, per_page).items
    yield "Ledger, last 90 days + region + fault group (ledger_page; the page benchmark's filter)", \
        lambda: ledger.ledger_page(ledger.LedgerFilters(date_from=(now - timedelta(days=90)).date(),
                                                        region_id=region_id, fault_category_id=group),
                                   1, per_page).items
    yield "Ledger, fault group + outcome (ledger_page)", lambda: ledger.ledger_page(
        ledger.LedgerFilters(fault_category_id=group, outcome="fixed"), 1, per_page).items
    yield "Ledger, exact product model (ledger_page)", lambda: ledger.ledger_page(
        ledger.LedgerFilters(model_exact=model), 1, per_page).items
    yield "Ledger, technician (ledger_page)", lambda: ledger.ledger_page(
        ledger.LedgerFilters(technician_id=technician.id), 1, per_page).items
    yield "Complaints, open (complaints_query)", page(complaints.complaints_query(complaints.ComplaintFilters()))
    yield "Follow-up calls, pending (follow_ups_query)", page(complaints.follow_ups_query())
    yield "Follow-up calls of a region (follow_ups_query)", page(complaints.follow_ups_query(region_id))
    yield "Follow-up calls, done (follow_ups_query)", page(complaints.follow_ups_query(status="done"))
    yield "Repeat detection (earlier_same_issue)", lambda: complaints.earlier_same_issue(
        repeat.customer_id, now, job_id=repeat.job_id, product_id=repeat.product_id,
        fault_category_id=repeat.fault_category_id)
    yield "Inspections list (inspections_query)", page(inspections.inspections_query(
        supervisor, inspections.InspectionFilters()))
    yield "Fault statistics, 8 weeks by group (fault_counts)", lambda: statistics.fault_counts(start8, end8, by="group")
    yield "Fault statistics, 8 weeks by model (fault_counts)", lambda: statistics.fault_counts(start8, end8, by="model")
    yield "Fault statistics, 8 weeks by week, one region (fault_counts)", \
        lambda: statistics.fault_counts(start8, end8, region_id=region_id, by="week")
    yield "Weekly summary, last week (weekly_summary)", lambda: statistics.weekly_summary(last_week, now=now)
    yield "Performance candidates, this quarter (performance_candidates)", \
        lambda: performance.performance_candidates(performance.current_quarter(now), now)
    yield "Supervisor dashboard counts (dashboard_counts)", lambda: performance.dashboard_counts(now)


def run(record: bool, output: Path = RESULTS, only: str = "") -> list[Case]:
    from sqlalchemy import func, select

    from fieldservice import create_app
    from fieldservice.extensions import db
    from fieldservice.models import Job

    app = create_app()
    results: list[Case] = []
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            sys.exit("bench/explain.py needs PostgreSQL (set DATABASE_URL).")
        jobs = db.session.scalar(select(func.count(Job.id)))
        now = datetime.now(UTC)
        raw = db.engine.raw_connection()
        try:
            for name, call in cases(now):
                if only and only.lower() not in name.lower():
                    continue
                statements, wall = _capture(db.engine, call)
                db.session.rollback()
                for statement in statements:
                    _explain(raw, statement)
                results.append(Case(name, statements, wall))
                total = sum(s.execution_ms for s in statements)
                seq = sorted({t for s in statements for t in s.seq_scans})
                print(f"{total:9.1f} ms  {len(statements):2d} stmt  {name}"
                      + (f"  SEQ: {', '.join(seq)}" if seq else ""))
        finally:
            raw.close()
        if record:
            _record(results, jobs, app.config["SQLALCHEMY_DATABASE_URI"], output)
    return results


def _machine() -> str:
    cpus = os.cpu_count()
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    load = open("/proc/loadavg").read().split()[:3]
    return f"`{platform.platform()}`; {cpus} CPUs; {mem_kb / 1024 / 1024:.1f} GiB RAM; load average {' '.join(load)}"


def _server_version(url: str) -> str:
    try:
        return subprocess.run(["psql", url.replace("+psycopg2", ""), "-Atc", "show server_version"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def _record(results: list[Case], jobs: int, url: str, output: Path = RESULTS) -> None:
    safe_url = re.sub(r"//[^@/]*@", "//", url)
    lines = [
        "", f"### EXPLAIN run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (bench/explain.py)", "",
        f"- Machine: {_machine()}; Python {platform.python_version()}",
        f"- Database: PostgreSQL {_server_version(url)} at `{safe_url}`, {jobs:,} jobs (flask seed-bulk)",
        "- Each statement the operation sent, run again as EXPLAIN (ANALYZE, BUFFERS); times are the server's "
        "execution times (warm cache). Plans trimmed to their first lines.", "",
        "| case | statements | execution ms (sum) | slowest statement ms | reads a whole table |",
        "|---|---|---|---|---|",
    ]
    for case in results:
        seq = sorted({t for s in case.statements for t in s.seq_scans})
        slowest = max((s.execution_ms for s in case.statements), default=0)
        lines.append(f"| {case.name} | {len(case.statements)} | {sum(s.execution_ms for s in case.statements):.1f} "
                     f"| {slowest:.1f} | {', '.join(seq) or '—'} |")
    lines.append("")
    for case in results:
        lines += ["", f"#### {case.name}", ""]
        if case.name in NOTES:
            lines += [f"Note: {NOTES[case.name]}", ""]
        for n, statement in enumerate(case.statements, 1):
            sql = re.sub(r"\s+", " ", statement.literal)
            if len(sql) > SQL_CHARS:
                sql = sql[:SQL_CHARS] + " …"
            plan = statement.plan[:PLAN_LINES] + (["  …"] if len(statement.plan) > PLAN_LINES else [])
            timing = [l for l in statement.plan[-3:] if "Time:" in l]
            if len(statement.plan) > PLAN_LINES:
                plan += timing
            lines += [f"{n}. `{sql}`", "", "```", *plan, "```", ""]
    with output.open("a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"Appended to {output}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-record", action="store_true", help="print the summary only")
    parser.add_argument("--output", type=Path, default=RESULTS, help="append the plans here (default: RESULTS.md)")
    parser.add_argument("--only", default="", help="only the cases whose name contains this text")
    args = parser.parse_args()
    run(record=not args.no_record, output=args.output, only=args.only)
