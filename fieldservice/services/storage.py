"""Object storage: the one module that talks to S3 (SeaweedFS in development, any S3 in prod).

Everything else in the app stores and serves files through these functions, so timeouts,
retries, key naming and error handling are decided once, here. Settings come from
``current_app.config``:

==========================  ===================================================
S3_ENDPOINT_URL             store URL; None means AWS itself
S3_BUCKET                   bucket holding every object of this app
S3_REGION                   signing region (default ``us-east-1``)
AWS_ACCESS_KEY_ID           credentials; None falls back to boto3's own chain
AWS_SECRET_ACCESS_KEY       (environment, instance profile, ...)
S3_PRESIGN_EXPIRY_SECONDS   lifetime of presigned download URLs (default 300)
S3_CONNECT_TIMEOUT          seconds (default 3)
S3_READ_TIMEOUT             seconds (default 20)
S3_MAX_ATTEMPTS             attempts per call including the first (default 3)
==========================  ===================================================

The client is built on first use and cached per app; settings other than S3_BUCKET and
S3_PRESIGN_EXPIRY_SECONDS are read only then.

Failures of the store or the network raise :class:`StorageError` (a missing object on
:func:`get` / :func:`open_stream` raises its subclass :class:`ObjectNotFound`), so views can
show a friendly message instead of a stack trace.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import quote

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.response import StreamingBody
from flask import current_app

log = logging.getLogger(__name__)

EXTENSION_KEY = "fieldservice_storage"
DEFAULT_REGION = "us-east-1"

# Error codes S3 (and SeaweedFS) use for "no such key"; HEAD responses carry only "404".
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_NO_BUCKET_CODES = frozenset({"404", "NoSuchBucket", "NotFound"})
# Upload threads per put (boto3 starts 10); parts are 8 MiB, files under 8 MiB go in one PUT.
_TRANSFER_CONFIG = TransferConfig(max_concurrency=4)


class StorageError(Exception):
    """The object store failed or could not be reached.

    ``operation`` and ``key`` say what was attempted; ``code`` is the S3 error code when the
    store answered (e.g. ``SignatureDoesNotMatch``), None for network errors and timeouts.
    """

    def __init__(
        self, operation: str, key: str | None, detail: str, code: str | None = None
    ) -> None:
        super().__init__(f"Object storage {operation} failed for {key!r}: {detail}")
        self.operation = operation
        self.key = key
        self.code = code


class ObjectNotFound(StorageError):
    """The requested object does not exist."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What :func:`put` stored: the size and SHA-256 are of the bytes actually sent."""

    key: str
    size: int
    sha256: str
    content_type: str


class _HashingReader:
    """Forward-only view of a binary file that hashes and counts every byte read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self._digest.update(chunk)
        self.size += len(chunk)
        return chunk

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        # Unseekable makes s3transfer read the stream once, in order, instead of seeking to
        # parts in parallel threads (or rewinding to retry): each byte is hashed exactly once.
        return False

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


class _ClientHolder:
    """One boto3 client per app, built lazily under a lock (clients are thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: BaseClient | None = None

    def get(self, config: Mapping[str, Any]) -> BaseClient:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = _build_client(config)
                client = self._client
        return client


def _build_client(config: Mapping[str, Any]) -> BaseClient:
    # A session of its own: boto3's default session is not safe to create clients from
    # concurrently.
    session = boto3.session.Session(
        aws_access_key_id=config.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=config.get("AWS_SECRET_ACCESS_KEY"),
        region_name=config.get("S3_REGION") or DEFAULT_REGION,
    )
    return session.client(
        "s3",
        endpoint_url=config.get("S3_ENDPOINT_URL") or None,
        config=Config(
            # Short timeouts and few attempts: a stalled store must fail a request in
            # seconds, not hold a worker for minutes.
            connect_timeout=config.get("S3_CONNECT_TIMEOUT", 3),
            read_timeout=config.get("S3_READ_TIMEOUT", 20),
            # total_max_attempts counts the first try, as S3_MAX_ATTEMPTS (and AWS_MAX_ATTEMPTS)
            # do; botocore's "max_attempts" would count retries only, one attempt more.
            retries={
                "total_max_attempts": int(config.get("S3_MAX_ATTEMPTS", 3)),
                "mode": "standard",
            },
            signature_version="s3v4",
            # Path style works on every S3-compatible store and needs no wildcard DNS.
            s3={"addressing_style": "path"},
        ),
    )


def _client() -> BaseClient:
    holder = current_app.extensions.setdefault(EXTENSION_KEY, _ClientHolder())
    return holder.get(current_app.config)


def _bucket() -> str:
    bucket = current_app.config.get("S3_BUCKET")
    if not bucket:
        raise RuntimeError("S3_BUCKET is not configured")
    return str(bucket)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _translate_errors(operation: str, key: str | None) -> Iterator[None]:
    """Turn boto3/botocore failures into :class:`StorageError`, logged with what and where."""
    try:
        yield
    except ClientError as exc:
        code = _error_code(exc)
        if code in _NOT_FOUND_CODES:
            # An expected answer, not a failure of the store: the caller decides, no log.
            raise ObjectNotFound(operation, key, "no such object", code) from exc
        raise _logged(StorageError(operation, key, str(exc), code or None)) from exc
    except (BotoCoreError, Boto3Error) as exc:
        # Connection refused, DNS, timeouts, broken streams: the store is unreachable.
        raise _logged(StorageError(operation, key, str(exc))) from exc


def _logged(error: StorageError) -> StorageError:
    # The message names the operation and key; add where, for whoever reads the log.
    log.error("%s (bucket %r, code %s)", error, current_app.config.get("S3_BUCKET"), error.code)
    return error


def ensure_bucket() -> None:
    """Create the configured bucket unless it exists already (safe to call repeatedly)."""
    client, bucket = _client(), _bucket()
    with _translate_errors("head_bucket", None):
        try:
            client.head_bucket(Bucket=bucket)
            return
        except ClientError as exc:
            if _error_code(exc) not in _NO_BUCKET_CODES:
                raise
    kwargs: dict[str, Any] = {"Bucket": bucket}
    region = current_app.config.get("S3_REGION") or DEFAULT_REGION
    if region != DEFAULT_REGION:
        # AWS rejects a region-less CreateBucket outside us-east-1.
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    with _translate_errors("create_bucket", None):
        try:
            client.create_bucket(**kwargs)
            log.info("Created bucket %r", bucket)
        except ClientError as exc:
            # Another worker created it between our HEAD and CREATE.
            if _error_code(exc) != "BucketAlreadyOwnedByYou":
                raise


def new_key(prefix: str) -> str:
    """A fresh random key such as ``photos/2026/11/<uuid4 hex>``.

    Keys never contain a client's file name: names can collide, leak personal data and carry
    path tricks. Keep the original name in the database if it must be shown.
    """
    prefix = prefix.strip("/")
    if not prefix:
        raise ValueError("new_key needs a non-empty prefix")
    now = datetime.now(UTC)
    return f"{prefix}/{now:%Y}/{now:%m}/{uuid.uuid4().hex}"


def put(
    key: str,
    fileobj: IO[bytes],
    content_type: str,
    metadata: Mapping[str, str] | None = None,
) -> StoredObject:
    """Stream ``fileobj`` (read from its current position) to ``key``.

    Large files go up in parts without being read into memory whole; the size and SHA-256
    are computed on the way.
    """
    reader = _HashingReader(fileobj)
    extra_args: dict[str, Any] = {"ContentType": content_type}
    if metadata:
        extra_args["Metadata"] = dict(metadata)
    with _translate_errors("put", key):
        _client().upload_fileobj(
            reader, _bucket(), key, ExtraArgs=extra_args, Config=_TRANSFER_CONFIG
        )
    return StoredObject(key=key, size=reader.size, sha256=reader.sha256, content_type=content_type)


def get(key: str) -> bytes:
    """The whole object in memory; for large objects use :func:`open_stream`."""
    with _translate_errors("get", key):
        body: StreamingBody = _client().get_object(Bucket=_bucket(), Key=key)["Body"]
        with closing(body):
            data: bytes = body.read()
    return data


def open_stream(key: str) -> StreamingBody:
    """The object's body as a stream (``read``, ``iter_chunks``); close it when done.

    Use ``contextlib.closing(open_stream(key))``: the body's own ``with`` yields the raw
    urllib3 response instead of the body.

    Errors while opening raise :class:`StorageError`; reads from the body itself may still
    raise botocore errors if the connection drops mid-way.
    """
    with _translate_errors("open_stream", key):
        body: StreamingBody = _client().get_object(Bucket=_bucket(), Key=key)["Body"]
    return body


def head(key: str) -> dict[str, Any] | None:
    """The object's metadata (ContentLength, ContentType, ETag, LastModified, Metadata...).

    Returns None if there is no such object.
    """
    try:
        with _translate_errors("head", key):
            response: dict[str, Any] = _client().head_object(Bucket=_bucket(), Key=key)
    except ObjectNotFound:
        return None
    response.pop("ResponseMetadata", None)
    return response


def delete(key: str) -> None:
    """Delete the object; deleting a missing object is not an error."""
    try:
        with _translate_errors("delete", key):
            _client().delete_object(Bucket=_bucket(), Key=key)
    except ObjectNotFound:
        pass


def list_objects(prefix: str = "", page_size: int = 1000) -> Iterator[tuple[str, datetime]]:
    """Every object under ``prefix`` as ``(key, last_modified)``, ``page_size`` keys a request.

    A generator: the listing is fetched lazily, so a large bucket is never held in memory.
    Failures raise :class:`StorageError`, including those while fetching a later page.
    """
    client, bucket = _client(), _bucket()
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    )
    iterator = iter(pages)
    while True:
        with _translate_errors("list", prefix or None):
            page = next(iterator, None)
        if page is None:
            return
        for item in page.get("Contents", ()):
            modified: datetime = item["LastModified"]
            if modified.tzinfo is None:
                modified = modified.replace(tzinfo=UTC)
            yield item["Key"], modified


def presigned_get_url(key: str, expires: int | None = None, filename: str | None = None) -> str:
    """A URL that lets a browser download the object without credentials, for a short time.

    ``expires`` defaults to S3_PRESIGN_EXPIRY_SECONDS. With ``filename`` the response asks the
    browser to save the object under that name.
    """
    if expires is None:
        expires = int(current_app.config.get("S3_PRESIGN_EXPIRY_SECONDS", 300))
    if expires <= 0:
        raise ValueError("expires must be a positive number of seconds")
    params: dict[str, str] = {"Bucket": _bucket(), "Key": key}
    if filename:
        params["ResponseContentDisposition"] = _content_disposition(filename)
    # Signing is local (no request is sent), but credential lookup can still fail.
    with _translate_errors("presign", key):
        url: str = _client().generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
    return url


def _content_disposition(filename: str) -> str:
    """An ``attachment`` header value that is safe for any file name (RFC 6266).

    Old clients read the ASCII ``filename``; current browsers use the UTF-8 ``filename*``,
    so names such as 现场照片.jpg survive.
    """
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._ -]", "_", ascii_name).strip(" .") or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
