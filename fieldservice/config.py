"""Configuration read from the environment.

Every secret comes from the environment; nothing here is a production secret. In production
(FIELDSERVICE_ENV=production) the app refuses to start without a real SECRET_KEY.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - refused in production, see check_production
INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Settings for development and production, each overridable from the environment."""

    ENV_NAME = os.environ.get("FIELDSERVICE_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)

    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'fieldservice.db'}"
    )
    # pre-ping: a restarted database is noticed and the pool recovers by itself.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    # Object storage: any S3-compatible store (SeaweedFS in development and tests).
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
    S3_BUCKET = os.environ.get("S3_BUCKET", "fieldservice")
    S3_REGION = os.environ.get("S3_REGION", "us-east-1")
    AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID")
    AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY")
    S3_PRESIGN_EXPIRY_SECONDS = _env_int("S3_PRESIGN_EXPIRY_SECONDS", 300)
    S3_CONNECT_TIMEOUT = _env_float("S3_CONNECT_TIMEOUT", 3)
    S3_READ_TIMEOUT = _env_float("S3_READ_TIMEOUT", 20)
    S3_MAX_ATTEMPTS = _env_int("S3_MAX_ATTEMPTS", 3)

    # Pages link the minified builds of our JS/CSS (make assets) while they are current;
    # False links the sources (for reading them in the browser's developer tools).
    STATIC_MINIFIED = _env_bool("STATIC_MINIFIED", True)

    # Sessions: HttpOnly and SameSite=Lax always, Secure when served over HTTPS.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", ENV_NAME == "production")
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = _env_int("SESSION_HOURS", 12) * 3600
    # Behind a proxy that sets X-Forwarded-For/Proto (gunicorn behind nginx): how many hops.
    PROXY_HOPS = _env_int("PROXY_HOPS", 0)

    # CSRF tokens live as long as the session page may be open on a phone at a site.
    WTF_CSRF_TIME_LIMIT = _env_int("CSRF_TIME_LIMIT_SECONDS", 8 * 3600)

    # Login throttling, per account and per client address, over a sliding window.
    LOGIN_WINDOW_MINUTES = _env_int("LOGIN_WINDOW_MINUTES", 15)
    LOGIN_MAX_FAILURES_PER_ACCOUNT = _env_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
    LOGIN_MAX_FAILURES_PER_ADDRESS = _env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 30)

    # Arrival deadlines (policy 3.2, 4.1): hours from logging the request, per priority.
    ARRIVAL_HOURS = {
        "urgent": _env_int("ARRIVAL_HOURS_URGENT", 4),
        "high": _env_int("ARRIVAL_HOURS_HIGH", 24),
        "normal": _env_int("ARRIVAL_HOURS_NORMAL", 48),
        "low": _env_int("ARRIVAL_HOURS_LOW", 72),
    }
    # A deadline turns amber in the last part of its window (0.25 = the last quarter).
    DEADLINE_WARNING_FRACTION = _env_float("DEADLINE_WARNING_FRACTION", 0.25)

    # Times are stored in UTC and shown in the service centre's time zone.
    TIMEZONE = os.environ.get("FIELDSERVICE_TIMEZONE", "Asia/Shanghai")
    LANGUAGES = ("zh_CN", "en")
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_TRANSLATION_DIRECTORIES = str(Path(__file__).resolve().parent / "translations")
    MAPS_URL_TEMPLATE = os.environ.get(
        "MAPS_URL_TEMPLATE", "https://www.openstreetmap.org/search?query={query}"
    )
    PAGE_SIZE = _env_int("PAGE_SIZE", 25)
    # List pages count matching rows only up to this many, then show "1,000+" (issue 7):
    # a count(*) of every row was most of a big list page's time (fieldservice/pagination.py).
    LIST_COUNT_CAP = _env_int("LIST_COUNT_CAP", 1000)

    # Claims (policy 3.7): an approval above this amount needs a second reviewer (four eyes).
    CLAIM_SECOND_APPROVAL_ABOVE = _env_float("CLAIM_SECOND_APPROVAL_ABOVE", 10000.0)

    # Complaints (policy 2.6): the same customer on the same issue within this many days is a
    # repeated complaint, escalated to the supervisor.
    COMPLAINT_REPEAT_WINDOW_DAYS = _env_int("COMPLAINT_REPEAT_WINDOW_DAYS", 90)
    # Follow-up visits (policy 2.1): the call-back is due this many days after the job is resolved.
    FOLLOW_UP_DUE_DAYS = _env_int("FOLLOW_UP_DUE_DAYS", 3)
    # Quality watch (policy 2.4): a fault category on one product model is flagged for a week when
    # it reaches QUALITY_FLAG_MIN_COUNT faults, or when it is at least QUALITY_FLAG_MIN_SHARE of
    # that model's faults with at least QUALITY_FLAG_SHARE_MIN_COUNT of them.
    QUALITY_FLAG_MIN_COUNT = _env_int("QUALITY_FLAG_MIN_COUNT", 5)
    QUALITY_FLAG_MIN_SHARE = _env_float("QUALITY_FLAG_MIN_SHARE", 0.5)
    QUALITY_FLAG_SHARE_MIN_COUNT = _env_int("QUALITY_FLAG_SHARE_MIN_COUNT", 3)
    # The supervisor dashboard's fault charts are kept this many seconds per language (issue 7:
    # they count weeks of ledger rows); the page says "as of" when. 0: always counted live.
    DASHBOARD_CHARTS_TTL = _env_int("DASHBOARD_CHARTS_TTL", 60)

    # Photos (policy 3.7): the largest upload accepted, and a pixel limit against decompression bombs.
    PHOTO_MAX_BYTES = _env_int("PHOTO_MAX_BYTES", 15 * 1024 * 1024)
    PHOTO_MAX_PIXELS = _env_int("PHOTO_MAX_PIXELS", 40_000_000)
    # The request as a whole: the photo plus a little room for the form's other fields.
    MAX_CONTENT_LENGTH = PHOTO_MAX_BYTES + 1024 * 1024
    # Photos decoded and stored at once per process: bounds memory when many arrive together.
    PHOTO_MAX_CONCURRENT = _env_int("PHOTO_MAX_CONCURRENT", 2)
    # Photos that arrive while the object store is down wait here (issue 7) until
    # `flask photos-retry` or a later upload sends them; None means instance/pending-photos.
    PENDING_PHOTOS_DIR = os.environ.get("PENDING_PHOTOS_DIR") or None


class TestConfig(Config):
    """Settings for the test suite; the database and store come from fixtures."""

    TESTING = True
    ENV_NAME = "testing"
    SECRET_KEY = "test-secret-key"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    SESSION_COOKIE_SECURE = False
    TIMEZONE = "UTC"
    # Hashing cost is not what the tests test; scrypt would make each sign-in ~100 ms.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    # Tests read the dashboard's charts live (a test that wants the cache sets its own TTL).
    DASHBOARD_CHARTS_TTL = 0
    # Never the checkout's instance/ folder: a test's storage-sweep must not touch a developer's
    # pending photos. Tests that queue photos set a tmp_path of their own.
    PENDING_PHOTOS_DIR = os.path.join(tempfile.gettempdir(), f"fieldservice-test-pending-{os.getpid()}")


def check_production(config: dict) -> None:
    """Refuse to start in production with a missing or default SECRET_KEY."""
    if config.get("ENV_NAME") != "production":
        return
    key = config.get("SECRET_KEY")
    if not key or key == DEV_SECRET_KEY or len(key) < 16:
        raise RuntimeError(
            "SECRET_KEY must be set to a long random value in production "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')."
        )
