"""Photos as evidence (policy 3.7, 2.3): check, store and serve the pictures technicians take.

Used by diagnosis now and by inspections and claims later. Plain functions, no request
objects: the caller passes a file object and commits.

* :func:`ingest_photo` proves the upload is a photo (JPEG, PNG, WebP, HEIC/HEIF), refuses
  decompression bombs from the header before decoding, keeps the ORIGINAL BYTES unchanged
  (the evidence, with its SHA-256) and makes a display copy and a thumbnail, upright and
  without EXIF (no GPS of a customer's home leaks). The Photo row is added only once all
  three objects are stored, or, when the store cannot be reached, once the checked original
  is kept in PENDING_PHOTOS_DIR (the row is then "pending").
* :func:`process_pending_photos` is the retry queue (`flask photos-retry`, and a few after
  each successful upload): it renders and stores a pending photo through the same code path
  as an upload (:func:`_render_and_store`) and marks it stored.
* :func:`photo_url` gives a short-lived presigned URL; call it only after the viewer's
  access to the record was checked.
* :func:`sweep_orphans` deletes objects no row points to (`flask storage-sweep`).

Settings (``current_app.config``): PHOTO_MAX_BYTES (15 MB), PHOTO_MAX_PIXELS (40 M),
PHOTO_DISPLAY_PX (1600), PHOTO_THUMB_PX (320), PHOTO_JPEG_QUALITY (82),
PHOTO_URL_EXPIRY_SECONDS (falls back to S3_PRESIGN_EXPIRY_SECONDS), PHOTO_MAX_CONCURRENT
(photos decoded and stored at once per process, default 2: bounds memory when many arrive
together; the others wait, spooled to disk), TIMEZONE, PENDING_PHOTOS_DIR (default
instance/pending-photos), PENDING_PHOTOS_PER_UPLOAD (pending photos sent after a successful
upload, default 3).
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Diagnosis, Job, Photo, ReplacedPart, User, utcnow
from ..models.photos import PENDING, STORED
from . import storage
from .audit import record_event

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 15 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_DISPLAY_PX = 1600
DEFAULT_THUMB_PX = 320
DEFAULT_JPEG_QUALITY = 82
VARIANTS = ("thumb", "display", "original")
# A JPEG is decoded at reduced scale when the display copy still gets this share of its size.
DRAFT_FRACTION = 0.9

# Pillow format name -> the content type the original is stored (and served) with.
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}
_CHUNK = 1024 * 1024
# Orientations (EXIF 274) that swap width and height.
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_EXIF_IFD = ExifTags.IFD.Exif
_DATETIME_ORIGINAL = ExifTags.Base.DateTimeOriginal
_OFFSET_TIME_ORIGINAL = ExifTags.Base.OffsetTimeOriginal


class PhotoRejected(Exception):
    """The upload is not a photo we accept; ``message`` is for the user (translatable)."""

    status = 422

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


class PhotoTooLarge(PhotoRejected):
    """The file is larger than PHOTO_MAX_BYTES."""

    status = 413


class PhotoStoreUnavailable(Exception):
    """The object store failed. From ingest_photo: nothing was kept (not even on the server's
    disk); the user may retry the same upload. ``rendition`` is the checked photo's rendering
    when the failure came after it (ingest keeps the original as pending then)."""

    message = _l("Photo not uploaded — the photo store is unavailable. Retry in a moment.")

    def __init__(self, detail: str = "", rendition: "_Rendition | None" = None) -> None:
        super().__init__(detail or str(self.message))
        self.rendition = rendition


class PhotoPending(Exception):
    """The photo is kept on the server but not yet in the object store: no URL for it yet."""

    message = _l("This photo is saved on the server and will be shown once the photo store is back.")


# --- HEIC/HEIF: phones send it; the opener is registered on first use ----------------------

_heif_lock = threading.Lock()
_heif_state: dict[str, bool] = {}


def _heif_available() -> bool:
    """Register pillow-heif's opener once; False when the package is not installed."""
    if "ok" not in _heif_state:
        with _heif_lock:
            if "ok" not in _heif_state:
                try:
                    from pillow_heif import register_heif_opener
                except ImportError:
                    _heif_state["ok"] = False
                else:
                    # Our own pixel limit is checked before decoding; no thumbnails needed.
                    register_heif_opener(thumbnails=False)
                    _heif_state["ok"] = True
    return _heif_state["ok"]


# --- processing at most a few photos at once per process ------------------------------------

_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


@contextmanager
def _processing_slot() -> Iterator[None]:
    # A decoded 12 MP photo is ~36 MB; ten arriving at once must not cost ten of those.
    limit = int(current_app.config.get("PHOTO_MAX_CONCURRENT", 2))
    with _slots_lock:
        slot = _slots.setdefault(limit, threading.BoundedSemaphore(limit))
    with slot:
        yield


# --- ingest -------------------------------------------------------------------------------


def ingest_photo(
    fileobj: IO[bytes],
    *,
    uploader: User,
    job: Job | None = None,
    diagnosis_id: int | None = None,
    part_id: int | None = None,
    caption: str = "",
    client_key: str | None = None,
    captured_hint: str | None = None,
    inspection_id: int | None = None,
    inspection_check_id: int | None = None,
    try_store: bool = True,
) -> Photo:
    """Check an uploaded photo, store it (original, display copy, thumbnail), add its row.

    When the store cannot be reached the checked original is kept in PENDING_PHOTOS_DIR and
    the row is added with status "pending" (``photo.pending``); ``try_store=False`` does that
    without trying (the caller saw the store down a moment ago). Raises PhotoRejected (not a
    photo, too many pixels, wrong record), PhotoTooLarge, or PhotoStoreUnavailable (store down
    and the original could not be kept either: nothing kept). Flushes; the caller commits;
    the pending file of a row that is never committed is removed by the sweep after an hour.
    A ``client_key`` seen before returns that Photo (stored or pending) without storing
    anything (a retried upload that had arrived).
    """
    client_key = (client_key or "").strip()[:64] or None
    if client_key:
        existing = _photo_with_client_key(client_key, uploader, job)
        if existing is not None:
            return existing
    _check_links(job, diagnosis_id, part_id)
    _check_inspection_links(job, inspection_id, inspection_check_id)
    config = current_app.config
    max_bytes = int(config.get("PHOTO_MAX_BYTES", DEFAULT_MAX_BYTES))

    with tempfile.TemporaryFile(prefix="photo-") as spool:
        sha256, byte_size = _spool(fileobj, spool, max_bytes)
        if byte_size == 0:
            raise PhotoRejected(_l("The file is empty."))
        spool.flush()
        base = storage.new_key("photos")
        keys = (f"{base}/original", f"{base}/display.jpg", f"{base}/thumb.jpg")
        context = {"job_id": job.id if job else None, "uploader_id": uploader.id, "key": base}
        pending_name = None
        try:
            rendition = _render_and_store(spool, keys, context, store=try_store)
        except PhotoStoreUnavailable as exc:
            if exc.rendition is None:
                raise
            rendition = exc.rendition
            # Checked (size, decode) but not stored: keep the original on the server's disk so
            # nothing the technician took is lost; the retry queue sends it later (issue 7).
            pending_name = _keep_pending(spool, context)

    photo = Photo(
        job_id=job.id if job else None, diagnosis_id=diagnosis_id, part_id=part_id,
        inspection_id=inspection_id, inspection_check_id=inspection_check_id,
        caption=(caption or "").strip()[:300],
        original_key=keys[0], display_key=keys[1], thumb_key=keys[2],
        content_type=rendition.content_type, sha256=sha256, byte_size=byte_size,
        width=rendition.width, height=rendition.height,
        captured_dt=rendition.captured_dt or parse_capture_hint(captured_hint),
        uploaded_by_id=uploader.id, uploaded_dt=utcnow(), client_key=client_key,
        status=PENDING if pending_name else STORED, pending_name=pending_name,
    )
    try:
        with db.session.begin_nested():
            db.session.add(photo)
    except IntegrityError:
        # The same client_key arrived twice at once: the other request's row wins.
        if pending_name:
            _remove_pending_file(pending_name)
        else:
            _delete_quietly(keys, context)
        existing = _photo_with_client_key(client_key, uploader, job) if client_key else None
        if existing is None:
            raise
        return existing
    if pending_name:
        record_event("photo", photo.id, "keep_pending", uploader, None, PENDING,
                     reason="object store unavailable")
    return photo


def ingest_uploads(files, *, uploader: User, caption: str = "", client_key: str | None = None,
                   captured_hint: str | None = None, **links) -> tuple[list[Photo], list[tuple[int, str]]]:
    """Each file of one upload request through ingest_photo, with the same links (job, inspection...).

    Returns the photos added (stored or pending) and, for each file refused, (HTTP status,
    message). The client key and capture hint name one file, so a plain form posting several
    files gets neither. Once one photo found the store down, the next are kept as pending
    without trying it again (each try costs the store's timeouts). Stops at the first photo
    that could be neither stored nor kept.
    """
    added: list[Photo] = []
    refused: list[tuple[int, str]] = []
    single = len(files) == 1
    for upload_file in files:
        try:
            added.append(ingest_photo(
                upload_file.stream, uploader=uploader, caption=caption,
                client_key=client_key if single else None, captured_hint=captured_hint if single else None,
                try_store=not any(p.pending for p in added), **links))
        except PhotoStoreUnavailable as exc:
            refused.append((503, str(exc.message)))
            break
        except PhotoRejected as exc:
            refused.append((exc.status, str(exc.message)))
    return added, refused


def _photo_with_client_key(client_key: str, uploader: User, job: Job | None) -> Photo | None:
    photo = db.session.scalar(select(Photo).where(Photo.client_key == client_key))
    if photo is None:
        return None
    if photo.uploaded_by_id != uploader.id or photo.job_id != (job.id if job else None):
        # Keys come from the browser: someone else's key must not fetch someone else's photo.
        raise PhotoRejected(_l("This upload was already used for another record. Choose the photo again."))
    return photo


def _check_links(job: Job | None, diagnosis_id: int | None, part_id: int | None) -> None:
    """The diagnosis and part a photo is tied to must belong to the same job."""
    diagnosis = None
    if diagnosis_id is not None:
        diagnosis = db.session.get(Diagnosis, diagnosis_id)
        if diagnosis is None or (job is not None and diagnosis.job_id != job.id):
            raise PhotoRejected(_l("This diagnosis does not belong to the job."))
    if part_id is not None:
        part = db.session.get(ReplacedPart, part_id)
        if part is None:
            raise PhotoRejected(_l("This part is not on the diagnosis."))
        if diagnosis is not None and part.diagnosis_id != diagnosis.id:
            raise PhotoRejected(_l("This part is not on the diagnosis."))
        if job is not None and part.diagnosis.job_id != job.id:
            raise PhotoRejected(_l("This part is not on the diagnosis."))


def _check_inspection_links(job: Job | None, inspection_id: int | None, check_id: int | None) -> None:
    """A checklist item's photo belongs to that item's inspection (and its job, if any)."""
    from ..models import Inspection, InspectionCheck

    if check_id is not None:
        check = db.session.get(InspectionCheck, check_id)
        if check is None or check.inspection_id != inspection_id:
            raise PhotoRejected(_l("This checklist item is not on the inspection."))
    if inspection_id is not None:
        inspection = db.session.get(Inspection, inspection_id)
        if inspection is None or inspection.job_id != (job.id if job else None):
            raise PhotoRejected(_l("This inspection does not belong to the job."))


def _spool(source: IO[bytes], spool: IO[bytes], max_bytes: int) -> tuple[str, int]:
    """Copy the upload to disk in chunks, hashing it; refuse it past ``max_bytes``."""
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise PhotoTooLarge(
                _l("The photo is larger than %(mb)s MB.", mb=round(max_bytes / 1024 / 1024))
            )
        digest.update(chunk)
        spool.write(chunk)
    return digest.hexdigest(), size


class _Rendition:
    __slots__ = ("content_type", "width", "height", "captured_dt", "display", "thumb")


def _render(spool: IO[bytes]) -> _Rendition:
    """Prove the file is a photo and make its display copy and thumbnail (JPEG, no EXIF)."""
    config = current_app.config
    formats = ["JPEG", "PNG", "WEBP"] + (["HEIF"] if _heif_available() else [])
    not_a_photo = _l("This file is not a photo (JPEG, PNG, WebP or HEIC).")
    try:
        image = Image.open(spool, formats=formats)  # reads the header only
    except Image.DecompressionBombError as exc:
        raise PhotoRejected(_l("The photo is too large in pixels.")) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise PhotoRejected(not_a_photo) from exc
    with image:
        width, height = image.size
        if width <= 0 or height <= 0 or width * height > int(config.get("PHOTO_MAX_PIXELS", DEFAULT_MAX_PIXELS)):
            raise PhotoRejected(_l("The photo is too large in pixels."))
        result = _Rendition()
        result.content_type = CONTENT_TYPES[image.format]
        exif = image.getexif()
        orientation = exif.get(ExifTags.Base.Orientation, 1)
        result.width, result.height = (height, width) if orientation in _SWAPPING_ORIENTATIONS else (width, height)
        result.captured_dt = _captured_dt(exif, config.get("TIMEZONE") or "UTC")

        display_px = int(config.get("PHOTO_DISPLAY_PX", DEFAULT_DISPLAY_PX))
        thumb_px = int(config.get("PHOTO_THUMB_PX", DEFAULT_THUMB_PX))
        quality = int(config.get("PHOTO_JPEG_QUALITY", DEFAULT_JPEG_QUALITY))
        try:
            if image.format == "JPEG":
                # DCT scaling: decode every block of the file (proof it is whole) at 1/2..1/8
                # size while that still gives a display copy of 90% of its size or more: a
                # fourth of the memory for a 3000 px photo, a sixteenth for a 6000 px one.
                scale = min(1.0, DRAFT_FRACTION * display_px / max(width, height))
                image.draft("RGB", (max(1, round(width * scale)), max(1, round(height * scale))))
            image.load()  # the full decode: a truncated or corrupt file fails here
            # Shrink first, then turn upright and convert: the copies are display-sized.
            image.thumbnail((display_px, display_px), Image.Resampling.LANCZOS)
            ImageOps.exif_transpose(image, in_place=True)
            display = _to_srgb(image)
        except Image.DecompressionBombError as exc:
            raise PhotoRejected(_l("The photo is too large in pixels.")) from exc
        except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
            raise PhotoRejected(not_a_photo) from exc
    result.display = _jpeg(display, quality)
    display.thumbnail((thumb_px, thumb_px), Image.Resampling.LANCZOS)
    result.thumb = _jpeg(display, quality)
    display.close()
    return result


def _to_srgb(image: Image.Image) -> Image.Image:
    """An RGB copy in sRGB (phones shoot Display P3), alpha flattened on white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        rgb = flat
    elif image.mode == "RGB":
        rgb = image
    else:
        rgb = image.convert("RGB")
    icc = image.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(rgb, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if converted is not None:
                rgb = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: keep the pixels as they are
    return rgb


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    # No exif=, icc_profile= or comment=: the copy carries pixels only.
    image.save(out, "JPEG", quality=quality, progressive=True, optimize=True)
    return out.getvalue()


def _captured_dt(exif: Image.Exif, timezone_name: str) -> datetime | None:
    """The camera's capture time (EXIF DateTimeOriginal) as UTC, or None."""
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except (KeyError, ValueError, TypeError, OSError):
        return None
    raw = sub.get(_DATETIME_ORIGINAL)
    if not isinstance(raw, str):
        return None
    try:
        naive = datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # "0000:00:00 00:00:00" and other camera junk
    offset = sub.get(_OFFSET_TIME_ORIGINAL)
    tz = None
    if isinstance(offset, str):
        try:
            parsed = datetime.strptime(offset.strip("\x00 "), "%z")
            tz = parsed.tzinfo
        except ValueError:
            tz = None
    if tz is None:
        try:
            tz = ZoneInfo(timezone_name)
        except (KeyError, ValueError):
            tz = timezone.utc
    return naive.replace(tzinfo=tz).astimezone(timezone.utc)


def _render_and_store(source: IO[bytes], keys: tuple[str, str, str], context: dict, *,
                      store: bool = True) -> _Rendition:
    """THE path from an original on disk to its three stored objects, for an upload and for
    the retry queue alike: render (the checks and the two copies), then store the original
    unchanged and the copies. Raises PhotoRejected, or PhotoStoreUnavailable carrying the
    rendition when rendering succeeded but storing failed (or ``store`` is False).

    ``source`` is a real file (it has a descriptor), read from its start.
    """
    # Decoding and storing hold the memory (a decoded photo; boto3's 8 MB upload buffer):
    # a few at a time per process, the other uploads wait on disk.
    with _processing_slot():
        source.seek(0)
        # Pillow closes the file it decoded: give it a second handle on the descriptor.
        with open(source.fileno(), "rb", closefd=False) as reader:
            rendition = _render(reader)
        if not store:
            raise PhotoStoreUnavailable("not tried: the store was down a moment ago", rendition)
        source.seek(0)
        try:
            _store_all(
                [(keys[0], source, rendition.content_type),
                 (keys[1], io.BytesIO(rendition.display), "image/jpeg"),
                 (keys[2], io.BytesIO(rendition.thumb), "image/jpeg")],
                context,
            )
        except PhotoStoreUnavailable as exc:
            exc.rendition = rendition
            raise
    return rendition


def _store_all(objects, context: dict) -> None:
    stored: list[str] = []
    for key, body, content_type in objects:
        try:
            storage.put(key, body, content_type)
        except storage.StorageError as exc:
            log.error("photo not stored (%s): job %s, uploader %s, operation %s, key %s: %s",
                      "store unavailable", context["job_id"], context["uploader_id"],
                      exc.operation, key, exc)
            _delete_quietly(stored + [key], context)
            raise PhotoStoreUnavailable(str(exc)) from exc
        stored.append(key)


def _delete_quietly(keys, context: dict) -> None:
    for key in keys:
        try:
            storage.delete(key)
        except storage.StorageError as exc:
            # Left for `flask storage-sweep`: no row points to it.
            log.warning("could not remove partial photo object %s (job %s, uploader %s): %s",
                        key, context["job_id"], context["uploader_id"], exc)


# --- the retry queue: photos kept on the server while the store was down (issue 7) --------

# The pending file's name: uuid4 hex, chosen here (never the user's file name).
_PENDING_NAME_LENGTH = 32
_PENDING_PARTIAL_SUFFIX = ".part"
# A store still down answers in seconds; stop there rather than wait that long per photo.
_STORE_DOWN = object()


def pending_dir(create: bool = False) -> Path:
    """Where pending originals wait: PENDING_PHOTOS_DIR, else instance/pending-photos."""
    configured = current_app.config.get("PENDING_PHOTOS_DIR")
    path = Path(configured) if configured else Path(current_app.instance_path) / "pending-photos"
    if create:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _pending_path(name: str | None) -> Path | None:
    if not name or len(name) != _PENDING_NAME_LENGTH or not all(c in "0123456789abcdef" for c in name):
        return None  # never follow a name that is not one of ours
    return pending_dir() / name


def _keep_pending(spool: IO[bytes], context: dict) -> str:
    """Copy the checked original to PENDING_PHOTOS_DIR under a random name, atomically.

    Raises PhotoStoreUnavailable (without a rendition: nothing kept) if the disk fails too.
    """
    name = uuid.uuid4().hex
    partial = None
    try:
        directory = pending_dir(create=True)
        partial = directory / f"{name}{_PENDING_PARTIAL_SUFFIX}"
        spool.seek(0)
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            shutil.copyfileobj(spool, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
        # Whole or absent: a crash mid-copy leaves a .part file for the sweep, never a short original.
        os.replace(partial, directory / name)
    except OSError as exc:
        log.error("photo could not be kept pending either (job %s, uploader %s): %s",
                  context["job_id"], context["uploader_id"], exc)
        if partial is not None:
            try:
                partial.unlink(missing_ok=True)
            except OSError:
                pass
        raise PhotoStoreUnavailable(str(exc)) from exc
    log.warning("photo kept pending, the object store is unavailable: job %s, uploader %s, key %s, file %s",
                context["job_id"], context["uploader_id"], context["key"], name)
    return name


def _remove_pending_file(name: str | None) -> None:
    path = _pending_path(name)
    if path is None:
        return
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        # Left for `flask storage-sweep`: no pending row names it any more.
        log.warning("could not remove pending photo file %s: %s", path, exc)


def process_pending_photos(limit: int | None = None, *,
                           photo_ids: list[int] | None = None) -> tuple[int, int]:
    """Send pending photos to the store, oldest first: ``(stored now, still pending)``.

    Each photo is rendered and stored exactly as an upload is (:func:`_render_and_store`, under
    the keys chosen on arrival), marked stored and committed on its own, then its local file is
    removed. On PostgreSQL each row is taken with FOR UPDATE SKIP LOCKED, so two workers never
    send the same photo; storing again under the same keys overwrites, so a photo is never
    stored twice either way. Stops at the first photo the store refuses (still down): it and
    the rest stay pending, their files kept. ``limit`` bounds the photos tried; ``photo_ids``
    restricts the run to those photos (a claim's evidence). COMMITS the session.
    """
    if photo_ids is not None and not photo_ids:
        return 0, 0
    stored = 0
    tried: list[int] = []
    while limit is None or len(tried) < limit:
        stmt = select(Photo).where(Photo.status == PENDING)
        if photo_ids is not None:
            stmt = stmt.where(Photo.id.in_(photo_ids))
        if tried:
            stmt = stmt.where(Photo.id.not_in(tried))
        photo = db.session.scalar(
            stmt.order_by(Photo.uploaded_dt, Photo.id).limit(1)
            .with_for_update(skip_locked=True).execution_options(populate_existing=True))
        if photo is None:
            break
        tried.append(photo.id)
        outcome = _send_pending(photo)
        if outcome is _STORE_DOWN:
            break
        stored += bool(outcome)
    still = select(func.count(Photo.id)).where(Photo.status == PENDING)
    if photo_ids is not None:
        still = still.where(Photo.id.in_(photo_ids))
    still_pending = db.session.scalar(still) or 0
    db.session.commit()
    return stored, still_pending


def _send_pending(photo: Photo):
    """Store one locked pending photo; True when stored, False when it must wait (logged),
    _STORE_DOWN when the store refused. Commits or rolls back (releasing the lock)."""
    context = {"job_id": photo.job_id, "uploader_id": photo.uploaded_by_id,
               "key": photo.original_key.rsplit("/", 1)[0]}
    name = photo.pending_name
    path = _pending_path(name)
    try:
        source = open(path, "rb") if path is not None else None  # noqa: SIM115 - closed below
    except OSError as exc:
        source, problem = None, str(exc)
    else:
        problem = "no pending file recorded" if source is None else ""
    if source is None:
        # Only a lost disk (or a hand-deleted file) gets here; the row stays for a person to see.
        log.error("pending photo %s cannot be sent: its file %s is unreadable: %s", photo.id, name, problem)
        db.session.rollback()
        return False
    with source:
        actual = _sha256_of(source)
        if actual != photo.sha256:
            log.error("pending photo %s not sent: its file %s no longer matches the SHA-256 recorded "
                      "on arrival (%s, now %s)", photo.id, name, photo.sha256, actual)
            db.session.rollback()
            return False
        try:
            _render_and_store(source, photo.keys, context)
        except PhotoStoreUnavailable:
            db.session.rollback()
            return _STORE_DOWN
        except PhotoRejected as exc:
            # It passed these checks on arrival; a different image library now? Keep it.
            log.error("pending photo %s not sent: rendering failed: %s", photo.id, exc)
            db.session.rollback()
            return False
    photo.status, photo.pending_name = STORED, None
    record_event("photo", photo.id, "store", None, PENDING, STORED, reason="sent from the retry queue")
    db.session.commit()
    _remove_pending_file(name)
    log.info("pending photo %s stored (key %s)", photo.id, context["key"])
    return True


def _sha256_of(source: IO[bytes]) -> str:
    source.seek(0)
    digest = hashlib.sha256()
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def process_pending_after_upload() -> None:
    """A few pending photos, sent at the end of an upload that just reached the store.

    Never fails the request that called it: errors are logged and rolled back.
    """
    limit = int(current_app.config.get("PENDING_PHOTOS_PER_UPLOAD", 3))
    if limit <= 0:
        return
    try:
        stored, still_pending = process_pending_photos(limit=limit)
    except Exception:  # noqa: BLE001 - the upload itself succeeded; the CLI retries later
        db.session.rollback()
        log.exception("sending pending photos after an upload failed")
        return
    if stored:
        log.info("%s pending photo(s) sent after an upload, %s still pending", stored, still_pending)


# --- serving ------------------------------------------------------------------------------


def photo_url(photo: Photo, variant: str) -> str:
    """A short-lived presigned URL of one variant: "thumb", "display" or "original".

    Call only after checking that the viewer may see the photo's record. Raises PhotoPending
    while the photo waits for the store (its objects do not exist yet).
    """
    if photo.pending:
        raise PhotoPending()
    key = {"thumb": photo.thumb_key, "display": photo.display_key, "original": photo.original_key}.get(variant)
    if key is None:
        raise ValueError(f"unknown photo variant {variant!r}")
    config = current_app.config
    expires = config.get("PHOTO_URL_EXPIRY_SECONDS") or config.get("S3_PRESIGN_EXPIRY_SECONDS", 300)
    return storage.presigned_get_url(key, expires=int(expires))


# --- sweeping -----------------------------------------------------------------------------


def referenced_keys() -> set[str]:
    """Every object key a row points to: photos (three each, pending ones too: their retry
    stores under them) and diagnosis signatures.

    A new kind of stored object must be added here, or the sweep deletes it.
    """
    keys: set[str] = set()
    for original, display, thumb in db.session.execute(
        select(Photo.original_key, Photo.display_key, Photo.thumb_key)
    ):
        keys.update((original, display, thumb))
    keys.update(db.session.scalars(select(Diagnosis.signature_key).where(Diagnosis.signature_key.is_not(None))))
    return keys


def sweep_orphans(older_than: timedelta = timedelta(hours=1)) -> list[str]:
    """Delete objects no row points to and older than ``older_than``; return their keys.

    The grace period spares uploads in flight, whose row is added only after their objects.
    """
    cutoff = utcnow() - older_than
    # The listing comes first: an object stored after its key set was read is newer than
    # the cutoff (unless older_than is 0, which only tests and a stopped app should use).
    candidates = [key for key, modified in storage.list_objects() if modified <= cutoff]
    if not candidates:
        return []
    referenced = referenced_keys()
    removed = []
    for key in candidates:
        if key in referenced:
            continue
        storage.delete(key)
        removed.append(key)
        log.info("storage sweep removed orphan object %s", key)
    return removed


def sweep_pending_files(older_than: timedelta = timedelta(hours=1)) -> list[str]:
    """Delete files in PENDING_PHOTOS_DIR no pending row names, older than ``older_than``.

    Such files are left by an upload whose transaction rolled back, a crash mid-copy (.part),
    or a stored photo whose file could not be removed. Returns their names.
    """
    directory = pending_dir()
    if not directory.is_dir():
        return []
    cutoff = (utcnow() - older_than).timestamp()
    # The listing comes first, as in sweep_orphans: a file kept after the names were read is young.
    with os.scandir(directory) as entries:
        candidates = [entry for entry in entries
                      if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime <= cutoff]
    if not candidates:
        return []
    waiting = set(db.session.scalars(select(Photo.pending_name).where(Photo.pending_name.is_not(None))))
    removed = []
    for entry in sorted(candidates, key=lambda e: e.name):
        if entry.name in waiting:
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed.append(entry.name)
        log.info("storage sweep removed orphan pending photo file %s", entry.name)
    return removed



def parse_capture_hint(value: str | None) -> datetime | None:
    """The capture time the browser read from the original's EXIF before scaling it.

    Used only when the stored file has no EXIF date of its own; a value that is not a
    plausible camera time (malformed, before 2000, in the future) is ignored.
    """
    if not value:
        return None
    try:
        taken = datetime.fromisoformat(value.strip()[:32])
    except ValueError:
        return None
    if taken.tzinfo is None:
        zone = ZoneInfo(current_app.config.get("TIMEZONE") or "UTC")
        taken = taken.replace(tzinfo=zone)
    taken = taken.astimezone(timezone.utc)
    if taken.year < 2000 or taken > utcnow() + timedelta(days=1):
        return None
    return taken
