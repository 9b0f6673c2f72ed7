"""The schema is built only by the migrations: upgrade -> downgrade -> upgrade, and no drift."""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from fieldservice import create_app
from fieldservice.extensions import db
from tests.conftest import _config_dict


@contextmanager
def scratch_database(tmp_path):
    """A new empty database of the kind the suite runs on (PostgreSQL or SQLite)."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"fs_migrations_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tables(app) -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade_leaves_the_same_schema(tmp_path):
    with scratch_database(tmp_path) as url:
        app = create_app({**_config_dict(), "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade()
            first = _tables(app)
            assert {"jobs", "users", "audit_events", "escalations"} <= first
            downgrade(revision="base")
            assert _tables(app) == set()
            upgrade()
            assert _tables(app) == first
            db.engine.dispose()


def test_models_and_migrations_agree(database_url):
    """A model changed without a migration shows up here as a difference."""
    app = create_app({**_config_dict(), "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], differences
