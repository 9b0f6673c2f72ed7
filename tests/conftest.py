"""Fixtures: a real database (PostgreSQL when TEST_DATABASE_URL is set, else a SQLite file)
built by the migrations, a real SeaweedFS, the app, clients that sign in as each role, and
helpers that make data.
"""
from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from itertools import count
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from fieldservice import create_app
from fieldservice.config import TestConfig
from fieldservice.extensions import db
from fieldservice.models import Customer, Job, Region, User, utcnow
from tests.s3_fixture import drop_bucket, random_bucket_name, seaweed, storage_config  # noqa: F401

PASSWORD = "test-pass-1234"  # noqa: S105
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def is_postgres() -> bool:
    return os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """The test database, emptied and built by `flask db upgrade` once per session."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app({**_config_dict(), "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return url


def _config_dict() -> dict:
    return {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}


def _empty_tables() -> None:
    """Remove every row, children first, so each test starts from an empty database.

    (DELETE, not TRUNCATE: on these tiny tables PostgreSQL's TRUNCATE costs ~15x more.)
    """
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def app_config() -> dict:
    """Per-test overrides of the app's settings (a test may change it before using `app`)."""
    return {}


@pytest.fixture
def app(request, database_url, app_config) -> Iterator:
    """The app on the test database; with object storage on the session's SeaweedFS (in a
    fresh bucket) when the test asks for `s3_app`."""
    config = {**_config_dict(), "SQLALCHEMY_DATABASE_URI": database_url}
    wants_s3 = "s3_app" in request.fixturenames
    if wants_s3:
        config.update(storage_config(request.getfixturevalue("seaweed"), random_bucket_name()))
    app = create_app({**config, **app_config})
    with app.app_context():
        _empty_tables()
        if wants_s3:
            from fieldservice.services import storage

            storage.ensure_bucket()
        yield app
        db.session.remove()
        _empty_tables()
        db.engine.dispose()
        if wants_s3:
            drop_bucket()


@pytest.fixture
def s3_app(app):
    """The same app as `app`, with its object storage on a real SeaweedFS."""
    assert app.config["S3_ENDPOINT_URL"]
    return app


class Client(FlaskClient):
    """A test client that sends the CSRF token the way the pages do."""

    csrf: str | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Tests read English unless they ask for another language (the app's default is Chinese).
        self.environ_base.setdefault("HTTP_ACCEPT_LANGUAGE", "en")

    def open(self, *args, **kwargs):
        # Each request gets its own app context (its own `g` and database session), as in
        # production, instead of sharing the one the test holds open.
        return contextvars.Context().run(super().open, *args, **kwargs)

    def fetch_csrf(self, url: str = "/login") -> str:
        html = self.get(url, follow_redirects=True).get_data(as_text=True)
        match = CSRF_RE.search(html)
        assert match, f"no CSRF token on {url}"
        self.csrf = match.group(1) or match.group(2)
        return self.csrf

    def post_form(self, url: str, data: dict | None = None, htmx_target: str | None = None, **kwargs):
        """POST like a browser form (token in the body), or like htmx (token in a header)."""
        if self.csrf is None:
            self.fetch_csrf()
        data = dict(data or {})
        headers = dict(kwargs.pop("headers", {}))
        if htmx_target is not None:
            headers.update({"HX-Request": "true", "HX-Target": htmx_target, "X-CSRFToken": self.csrf})
        else:
            data.setdefault("csrf_token", self.csrf)
        return self.post(url, data=data, headers=headers, **kwargs)

    def htmx_get(self, url: str, target: str, **kwargs):
        return self.get(url, headers={"HX-Request": "true", "HX-Target": target}, **kwargs)

    def login(self, username: str, password: str = PASSWORD):
        self.fetch_csrf("/login")
        response = self.post_form("/login", {"username": username, "password": password})
        if response.status_code == 303:
            self.fetch_csrf("/")
        return response


@pytest.fixture
def client(app) -> Client:
    app.test_client_class = Client
    return app.test_client()


class Factory:
    """Builds realistic records for tests: make_user, make_customer, make_job."""

    _seq = count(1)  # shared by every Factory, so names stay unique within a test

    def region(self, code: str = "north") -> Region:
        region = db.session.scalar(db.select(Region).where(Region.code == code))
        if region is None:
            region = Region(code=code, name=f"Region {code}")
            db.session.add(region)
            db.session.flush()
        return region

    def user(self, role: str, username: str | None = None, region: str = "north", **kw) -> User:
        from fieldservice.cli import create_user

        username = username or f"{role}{next(self._seq)}"
        user = create_user(username, PASSWORD, role, kw.pop("display_name", username.title()),
                           self.region(region))
        for key, value in kw.items():
            setattr(user, key, value)
        db.session.commit()
        return user

    def customer(self, name: str | None = None, region: str = "north", **kw) -> Customer:
        customer = Customer(name=name or f"Customer {next(self._seq)}",
                            phone=kw.pop("phone", f"010 5555 {next(self._seq):04d}"),
                            address=kw.pop("address", "1 Factory Road"), region=self.region(region), **kw)
        db.session.add(customer)
        db.session.commit()
        return customer

    def job(self, status: str = "new", technician: User | None = None, priority: str = "normal",
            request_type: str = "fault_repair", customer: Customer | None = None,
            created_ago: timedelta = timedelta(hours=1), dispatcher: User | None = None) -> Job:
        """A job driven to `status` through the real operations (so its history is real)."""
        from fieldservice.blueprints.dispatch import operations as ops

        customer = customer or self.customer()
        dispatcher = dispatcher or db.session.scalar(db.select(User).where(User.role == "dispatcher")) \
            or self.user("dispatcher")
        now = utcnow() - created_ago
        job = ops.log_request(actor=dispatcher, customer=customer, request_type=request_type,
                              priority=priority, description="Machine stops with error E42.",
                              product_model="PX-200", product_serial=f"SN{next(self._seq)}", now=now)
        path = {
            "new": [], "assigned": ["assign"], "en_route": ["assign", "start_travel"],
            "on_site": ["assign", "start_travel", "check_in"],
            "resolved": ["assign", "start_travel", "check_in", "resolve"],
            "closed": ["assign", "start_travel", "check_in", "resolve", "close"],
            "escalated": ["assign", "escalate"], "cancelled": ["cancel"],
        }[status]
        if "assign" in path:
            technician = technician or self.user("technician")
        for step in path:
            if step == "assign":
                ops.assign_job(job, technician, dispatcher, job.version, now=now)
            elif step == "close":  # jobs close by their follow-up call (policy 2.1)
                from fieldservice.blueprints.complaints import operations as complaints

                complaints.record_follow_up(complaints.follow_up_of(job), "reached", 5, "", dispatcher, now=now)
            else:
                actor = dispatcher if step in ("close", "cancel") else technician
                # by_hand=False: a "resolved" job stands for one whose record was submitted
                ops.transition_job(job, step, actor, None, reason="because", now=now, by_hand=False)
        db.session.commit()
        return job


@pytest.fixture
def make(app) -> Factory:
    return Factory()


@pytest.fixture
def login(app):
    """login(role_or_user) -> a signed-in client (a new client each call)."""

    def _login(who, **kw) -> Client:
        user = who if isinstance(who, User) else Factory().user(who, **kw)
        app.test_client_class = Client
        c = app.test_client()
        response = c.login(user.username)
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        c.user = user
        return c

    return _login


def count_queries(client, url: str) -> int:
    """How many SQL statements one GET of `url` runs (it must answer 200). List pages must run
    the same number at 10 rows and at hundreds: a test calls this before and after adding rows."""
    from sqlalchemy import event

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def insert_default_taxonomy() -> None:
    """The fault taxonomy migration 0002 seeds (the tables are emptied before each test)."""
    import importlib.util

    from fieldservice.models import FaultCategory

    path = Path(__file__).resolve().parents[1] / "migrations" / "versions" / "0002_diagnosis_photos.py"
    spec = importlib.util.spec_from_file_location("migration_0002", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for position, (code, name_en, name_zh, children) in enumerate(migration.DEFAULT_FAULT_CATEGORIES):
        group = FaultCategory(code=code, name_en=name_en, name_zh=name_zh, position=position)
        group.children = [FaultCategory(code=c, name_en=en, name_zh=zh, position=i)
                          for i, (c, en, zh) in enumerate(children)]
        db.session.add(group)
    db.session.commit()


@pytest.fixture
def default_taxonomy(app) -> None:
    insert_default_taxonomy()
