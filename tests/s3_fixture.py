"""Pytest fixtures for a real SeaweedFS S3 store; import them into a conftest.py or test module.

``seaweed`` starts one ``weed mini`` per test session in a temporary directory, with random
credentials. ``storage_app`` gives each test a minimal Flask app, in an app context, whose
S3 settings point at that server and at a fresh bucket of its own.

PYTEST_DONT_REWRITE: this module has no asserts; the marker lets a test module register it
with ``pytest_plugins`` after a conftest.py has imported it, without a pytest warning.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import flask
import pytest

from fieldservice.devtools.seaweed import SeaweedFS
from fieldservice.services import storage


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A running SeaweedFS shared by the whole session."""
    server = SeaweedFS(
        tmp_path_factory.mktemp("seaweedfs"),
        access_key=f"TEST{secrets.token_hex(8).upper()}",
        secret_key=secrets.token_urlsafe(30),
    )
    with server:
        yield server


def random_bucket_name() -> str:
    """A valid, unique S3 bucket name (lower case, 3-63 characters)."""
    return f"test-{secrets.token_hex(8)}"


def storage_config(server: SeaweedFS, bucket: str, **overrides: Any) -> dict[str, Any]:
    """Flask config for :mod:`fieldservice.services.storage` against ``server``."""
    config: dict[str, Any] = {
        "TESTING": True,
        "S3_ENDPOINT_URL": server.endpoint_url,
        "S3_BUCKET": bucket,
        "S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "S3_PRESIGN_EXPIRY_SECONDS": 300,
        "S3_CONNECT_TIMEOUT": 3,
        "S3_READ_TIMEOUT": 20,
        "S3_MAX_ATTEMPTS": 3,
    }
    config.update(overrides)
    return config


@pytest.fixture
def storage_app(seaweed: SeaweedFS) -> Iterator[flask.Flask]:
    """A minimal Flask app in an app context, using ``seaweed`` and an existing fresh bucket."""
    app = flask.Flask(__name__)
    app.config.update(storage_config(seaweed, random_bucket_name()))
    with app.app_context():
        storage.ensure_bucket()
        yield app
        drop_bucket()


def drop_bucket() -> None:
    """Empty and delete the current app's bucket.

    Each SeaweedFS bucket holds a volume of its own and `weed mini` has a few dozen, so a
    suite that made a bucket per test without dropping it would run out of them.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = flask.current_app.config["S3_BUCKET"]
    try:
        for key, _ in storage.list_objects():
            storage.delete(key)
        storage._client().delete_bucket(Bucket=bucket)
    except (storage.StorageError, ClientError, BotoCoreError):
        pass  # a test that stopped its store: nothing to free
