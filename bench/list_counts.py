"""Benchmark: a list page's count, db.paginate's count(*) of every row vs the capped count (issue 7).

Not a test. For each list it calls the app's own operation for the select, pages it both ways
(Flask-SQLAlchemy's db.paginate, as before; fieldservice.pagination.paginate, as now), records
the statements each sends and runs each again as EXPLAIN (ANALYZE) to sum their execution times;
the wall time of each call is the median of --runs. The session is READ ONLY: nothing is written.

    DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1/fs_bulk python bench/list_counts.py
"""
from __future__ import annotations

import argparse
import json
import os
import statistics as stats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _capture(engine, call):
    from sqlalchemy import event

    statements = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return statements


def _explain_ms(raw, statement, parameters) -> float:
    with raw.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
        plan = cursor.fetchone()[0]
        plan = plan if isinstance(plan, list) else json.loads(plan)
    return plan[0]["Execution Time"]


def cases():
    """(name, select) for each list; the selects are the ones the list operations page."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import joinedload

    from fieldservice.blueprints.complaints import operations as complaints
    from fieldservice.blueprints.ledger import operations as ledger
    from fieldservice.extensions import db
    from fieldservice.models import FaultCategory, Job, Product

    model = db.session.scalar(select(Product.model).group_by(Product.model).order_by(func.count().desc()).limit(1))
    group = db.session.scalar(select(FaultCategory.id).where(FaultCategory.parent_id.is_(None))
                              .order_by(FaultCategory.position).limit(1))
    jobs_stmt = (select(Job).options(joinedload(Job.customer), joinedload(Job.technician))
                 .order_by(Job.created_dt.desc(), Job.id.desc()))  # recent_jobs' select, no filter
    yield "Ledger, no filter", ledger.ledger_query(ledger.LedgerFilters())
    yield "Ledger, fault group + outcome fixed", ledger.ledger_query(
        ledger.LedgerFilters(fault_category_id=group, outcome="fixed"))
    yield "Ledger, exact product model", ledger.ledger_query(ledger.LedgerFilters(model_exact=model))
    yield "Jobs list, newest first", jobs_stmt
    yield "Follow-up calls, done", complaints.follow_ups_query(status="done")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", action="store_true", help="also time whole GETs of list pages")
    args = parser.parse_args()
    os.environ.setdefault("FIELDSERVICE_ENV", "development")
    from sqlalchemy import event

    from fieldservice import create_app
    from fieldservice.extensions import db
    from fieldservice.pagination import paginate

    app = create_app({"SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"]})
    with app.test_request_context("/"):  # a request, for the translated "1,000+"
        @event.listens_for(db.engine, "connect")
        def read_only(dbapi_connection, record):  # every transaction of this run is read only
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        db.engine.dispose()
        per_page = app.config["PAGE_SIZE"]
        for name, stmt in list(cases()):
            ways = {
                "before": lambda: db.paginate(stmt, page=1, per_page=per_page, error_out=False),
                "after": lambda: paginate(stmt, 1, per_page),
            }
            result = {}
            for way, call in ways.items():
                walls = []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    page = call()
                    walls.append((time.perf_counter() - started) * 1000)
                    db.session.rollback()
                statements = _capture(db.engine, call)
                raw = db.session.connection().connection.dbapi_connection
                times = [_explain_ms(raw, s, p) for s, p in statements]
                count_ms = sum(t for (s, _), t in zip(statements, times) if "count(" in s.lower())
                result[way] = (stats.median(walls), sum(times), count_ms, len(statements),
                               getattr(page, "total_text", page.total))
                db.session.rollback()
            b, a = result["before"], result["after"]
            print(f"| {name} | {b[4]} / {a[4]} | {b[2]:,.1f} | {a[2]:,.1f} | {b[1]:,.1f} | {a[1]:,.1f} "
                  f"| {b[0]:,.0f} | {a[0]:,.0f} | {b[3]} / {a[3]} |", flush=True)
    if args.pages:
        with app.app_context():
            pages(app, args.runs)


def pages(app, runs: int) -> None:
    """Whole GETs of list pages by supervisor sup526, counting every row (the cap set beyond any
    list, as db.paginate counted) and capped at LIST_COUNT_CAP. Signed in through the session
    cookie (a login would write its audit row); the database session stays read only."""
    from sqlalchemy import func, select

    from fieldservice.extensions import db
    from fieldservice.models import FaultCategory, Product, User

    user = db.session.scalar(select(User).where(User.username == "sup526"))
    model = db.session.scalar(select(Product.model).group_by(Product.model).order_by(func.count().desc()).limit(1))
    group = db.session.scalar(select(FaultCategory.id).where(FaultCategory.parent_id.is_(None))
                              .order_by(FaultCategory.position).limit(1))
    db.session.rollback()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = user.get_id(), True
    urls = {"Ledger page, no filter": "/ledger", "Ledger page, fault group + fixed": f"/ledger?fault={group}&outcome=fixed",
            "Ledger page, exact model": f"/ledger?model_exact={model}", "Jobs page": "/jobs",
            "Jobs page 41 (past the cap)": "/jobs?page=41"}
    cap = app.config["LIST_COUNT_CAP"]
    for name, url in urls.items():
        medians = []
        for way_cap in (10**12, cap):
            app.config["LIST_COUNT_CAP"] = way_cap
            walls = []
            for _ in range(runs):
                started = time.perf_counter()
                response = client.get(url)
                walls.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            medians.append(stats.median(walls))
        app.config["LIST_COUNT_CAP"] = cap
        print(f"| {name} (`{url}`) | {medians[0]:,.0f} | {medians[1]:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
