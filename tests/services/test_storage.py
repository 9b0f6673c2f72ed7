"""fieldservice.services.storage against a real SeaweedFS S3 server (no mocks)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import flask
import pytest
from botocore.exceptions import ClientError

from fieldservice.devtools.seaweed import SeaweedFS
from fieldservice.services import storage
from tests.s3_fixture import random_bucket_name, storage_config

# Registers the `seaweed` and `storage_app` fixtures as a plugin rather than importing them
# here, so that a conftest.py importing them too does not start a second server.
pytest_plugins = ("tests.s3_fixture",)

MB = 1024 * 1024


@contextmanager
def app_context(seaweed: SeaweedFS, **overrides: Any) -> Iterator[flask.Flask]:
    """A separate minimal app whose storage settings differ from the fixture's."""
    app = flask.Flask(__name__)
    app.config.update(storage_config(seaweed, random_bucket_name(), **overrides))
    with app.app_context():
        yield app


def fetch(url: str) -> tuple[int, bytes, dict[str, str]]:
    """GET ``url`` without any credentials; return status, body and headers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "size",
    [pytest.param(5 * MB + 123, id="single-part"), pytest.param(19 * MB, id="multipart")],
)
def test_put_head_get_round_trip_keeps_size_and_sha256(
    storage_app: flask.Flask, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    key = storage.new_key("test")

    with source.open("rb") as fileobj:
        stored = storage.put(key, fileobj, "application/octet-stream", metadata={"job": "42"})

    assert stored.key == key
    assert stored.size == size
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.content_type == "application/octet-stream"
    info = storage.head(key)
    assert info is not None
    assert info["ContentLength"] == size
    assert info["ContentType"] == "application/octet-stream"
    assert info["Metadata"] == {"job": "42"}
    assert hashlib.sha256(storage.get(key)).hexdigest() == stored.sha256
    streamed = hashlib.sha256()
    with closing(storage.open_stream(key)) as body:
        for chunk in body.iter_chunks(MB):
            streamed.update(chunk)
    assert streamed.hexdigest() == stored.sha256


def test_presigned_url_serves_the_object_without_credentials(storage_app: flask.Flask) -> None:
    data = b"inspection photo bytes" * 1000
    key = storage.new_key("photos")
    storage.put(key, io.BytesIO(data), "image/jpeg")

    status, body, headers = fetch(storage.presigned_get_url(key, filename="现场 照片.jpg"))

    assert status == 200
    assert body == data
    disposition = headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E7%8E%B0%E5%9C%BA%20%E7%85%A7%E7%89%87.jpg" in disposition


def test_presigned_url_expires(storage_app: flask.Flask) -> None:
    key = storage.new_key("photos")
    storage.put(key, io.BytesIO(b"short-lived"), "text/plain")
    url = storage.presigned_get_url(key, expires=1)

    time.sleep(2)

    status, _, _ = fetch(url)
    assert status == 403


def test_object_is_not_readable_anonymously(storage_app: flask.Flask, seaweed: SeaweedFS) -> None:
    key = storage.new_key("photos")
    storage.put(key, io.BytesIO(b"private"), "text/plain")

    status, body, _ = fetch(f"{seaweed.endpoint_url}/{storage_app.config['S3_BUCKET']}/{key}")

    assert status == 403
    assert b"private" not in body


def test_wrong_credentials_are_refused(storage_app: flask.Flask, seaweed: SeaweedFS) -> None:
    key = storage.new_key("photos")
    storage.put(key, io.BytesIO(b"data"), "text/plain")
    bucket = storage_app.config["S3_BUCKET"]

    with app_context(seaweed, S3_BUCKET=bucket, AWS_SECRET_ACCESS_KEY="not-the-secret"):  # noqa: S106
        with pytest.raises(storage.StorageError) as put_error:
            storage.put(storage.new_key("photos"), io.BytesIO(b"data"), "text/plain")
        with pytest.raises(storage.StorageError) as get_error:
            storage.get(key)
        # A refusal must not look like a missing object.
        with pytest.raises(storage.StorageError):
            storage.head(key)

    assert put_error.value.code == "SignatureDoesNotMatch"
    assert not isinstance(get_error.value, storage.ObjectNotFound)


def test_delete_is_idempotent(storage_app: flask.Flask) -> None:
    key = storage.new_key("photos")
    storage.put(key, io.BytesIO(b"to be deleted"), "text/plain")

    storage.delete(key)
    storage.delete(key)

    assert storage.head(key) is None
    with pytest.raises(storage.ObjectNotFound):
        storage.get(key)


def test_ensure_bucket_creates_once_and_is_idempotent(seaweed: SeaweedFS) -> None:
    with app_context(seaweed) as app:
        bucket = app.config["S3_BUCKET"]
        direct = boto3.session.Session().client(
            "s3",
            endpoint_url=seaweed.endpoint_url,
            aws_access_key_id=seaweed.access_key,
            aws_secret_access_key=seaweed.secret_key,
            region_name="us-east-1",
        )
        with pytest.raises(ClientError):
            direct.head_bucket(Bucket=bucket)

        storage.ensure_bucket()
        storage.ensure_bucket()

        direct.head_bucket(Bucket=bucket)
        key = storage.new_key("photos")
        storage.put(key, io.BytesIO(b"x"), "text/plain")
        assert storage.get(key) == b"x"


def test_unreachable_endpoint_raises_storage_error(seaweed: SeaweedFS) -> None:
    with app_context(seaweed, S3_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}"):
        with pytest.raises(storage.StorageError) as error:
            storage.put(storage.new_key("photos"), io.BytesIO(b"x"), "text/plain")
        with pytest.raises(storage.StorageError):
            storage.head("photos/missing")

    assert error.value.code is None
    assert error.value.operation == "put"


def test_hung_endpoint_times_out_after_configured_attempts(seaweed: SeaweedFS) -> None:
    # A server that accepts connections but never answers: a hung store.
    accepted: list[socket.socket] = []
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        silent.settimeout(0.2)
        done = threading.Event()

        def accept_and_ignore() -> None:
            while not done.is_set():
                try:
                    accepted.append(silent.accept()[0])
                except TimeoutError:
                    continue

        acceptor = threading.Thread(target=accept_and_ignore)
        acceptor.start()
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        try:
            with (
                app_context(
                    seaweed, S3_ENDPOINT_URL=endpoint, S3_READ_TIMEOUT=1, S3_MAX_ATTEMPTS=2
                ),
                pytest.raises(storage.StorageError, match=r"[Tt]imeout"),
            ):
                storage.get("photos/anything")
        finally:
            done.set()
            acceptor.join()
            for conn in accepted:
                conn.close()

    # S3_MAX_ATTEMPTS counts the first attempt: one try and one retry.
    assert len(accepted) == 2


def test_missing_object(storage_app: flask.Flask) -> None:
    assert storage.head("photos/2026/01/nothing-here") is None
    with pytest.raises(storage.ObjectNotFound):
        storage.get("photos/2026/01/nothing-here")
    with pytest.raises(storage.ObjectNotFound):
        storage.open_stream("photos/2026/01/nothing-here")


def test_new_key_is_random_and_dated() -> None:
    first, second = storage.new_key("/photos/"), storage.new_key("photos")

    assert re.fullmatch(r"photos/\d{4}/\d{2}/[0-9a-f]{32}", first)
    assert first != second
    with pytest.raises(ValueError):
        storage.new_key("/")


def test_client_is_shared_across_threads(storage_app: flask.Flask) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with storage_app.app_context():
                key = storage.new_key("threads")
                payload = f"payload {n}".encode()
                storage.put(key, io.BytesIO(payload), "text/plain")
                assert storage.get(key) == payload
        except BaseException as exc:  # reported by the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert storage.EXTENSION_KEY in storage_app.extensions


def test_list_objects_pages_through_every_key_with_its_time(storage_app: flask.Flask) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    keys = sorted(storage.new_key("listing") for _ in range(5))
    for key in keys:
        storage.put(key, io.BytesIO(b"x"), "text/plain")
    storage.put("other/one", io.BytesIO(b"y"), "text/plain")

    listed = list(storage.list_objects("listing/", page_size=2))  # three pages

    assert sorted(key for key, _ in listed) == keys
    assert all(before < modified <= datetime.now(UTC) + timedelta(minutes=5) for _, modified in listed)
    assert {key for key, _ in storage.list_objects()} == {*keys, "other/one"}


def test_list_objects_of_unreachable_store_raises_storage_error(seaweed: SeaweedFS) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    with app_context(seaweed, S3_ENDPOINT_URL=endpoint, S3_MAX_ATTEMPTS=1, S3_CONNECT_TIMEOUT=1):
        with pytest.raises(storage.StorageError):
            list(storage.list_objects())
