"""Photos as evidence (policy 3.7): stored unchanged, shown without EXIF, only to those who may.

Every test runs against a real SeaweedFS (the `s3_app` fixture) and the real database.
"""
from __future__ import annotations

import hashlib
import io
import secrets
import struct
import urllib.request
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image, ImageDraw

from fieldservice.extensions import db
from fieldservice.models import Photo
from fieldservice.services import photos as photo_service
from fieldservice.services import storage
from tests.conftest import Client, Factory

MB = 1024 * 1024
EXIF_IFD, GPS_IFD = 0x8769, 0x8825


@pytest.fixture
def login(s3_app):
    def _login(who, **kw) -> Client:
        user = who if not isinstance(who, str) else Factory().user(who, **kw)
        s3_app.test_client_class = Client
        client = s3_app.test_client()
        assert client.login(user.username).status_code == 303
        client.user = user
        return client

    return _login


@pytest.fixture
def make(s3_app) -> Factory:
    return Factory()


# --- photos made here --------------------------------------------------------------------


def camera_jpeg(size=(4000, 3000), orientation=6, taken="2024:05:06 07:08:09", offset="+08:00") -> bytes:
    """A phone photo lying on its side: left half red, right half blue, EXIF with GPS."""
    image = Image.new("RGB", size, (200, 20, 20))
    ImageDraw.Draw(image).rectangle((size[0] // 2, 0, size[0], size[1]), fill=(20, 20, 200))
    exif = Image.Exif()
    exif[274] = orientation
    exif[0x010F] = "PhoneMaker"
    if taken:
        exif.get_ifd(EXIF_IFD)[36867] = taken
        if offset:
            exif.get_ifd(EXIF_IFD)[36881] = offset
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 0.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def png(size=(640, 480), colour=(0, 128, 0)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def bucket_keys() -> list[str]:
    return [key for key, _ in storage.list_objects()]


def upload(client: Client, job_id: int, data: bytes, filename="photo.jpg", htmx=True, **fields):
    form = {"photo": (io.BytesIO(data), filename), **fields}
    headers = {"HX-Request": "true", "X-CSRFToken": client.csrf} if htmx else {}
    if not htmx:
        form["csrf_token"] = client.csrf
    return client.post(f"/jobs/{job_id}/photos", data=form, headers=headers,
                       content_type="multipart/form-data")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback store
        return response.read()


@pytest.fixture
def on_site(make, login):
    """A technician signed in, on site at their job."""
    tech = make.user("technician")
    job = make.job("on_site", technician=tech)
    return login(tech), job


# --- storing the evidence ----------------------------------------------------------------


def test_original_is_stored_unchanged_with_its_sha256_and_capture_time(on_site):
    client, job = on_site
    sent = camera_jpeg()

    response = upload(client, job.id, sent, caption="Burnt relay K2", client_key=secrets.token_hex(8))

    assert response.status_code == 201, response.get_data(as_text=True)
    photo = db.session.scalar(db.select(Photo))
    assert f'id="photo-{photo.id}"' in response.get_data(as_text=True)
    assert "Burnt relay K2" in response.get_data(as_text=True)
    stored = storage.get(photo.original_key)
    assert stored == sent
    assert photo.sha256 == hashlib.sha256(sent).hexdigest() == hashlib.sha256(stored).hexdigest()
    assert photo.byte_size == len(sent)
    assert photo.content_type == "image/jpeg"
    assert (photo.width, photo.height) == (3000, 4000)  # upright: Orientation 6 turns it
    assert photo.captured_dt == datetime(2024, 5, 5, 23, 8, 9, tzinfo=UTC)  # 07:08:09 +08:00
    assert photo.uploaded_by_id == client.user.id and photo.job_id == job.id
    assert photo.caption == "Burnt relay K2"
    assert storage.head(photo.original_key)["ContentType"] == "image/jpeg"
    assert "photo.jpg" not in " ".join(photo.keys)  # never the client's file name


@pytest.mark.parametrize("variant, long_side", [("display", 1600), ("thumb", 320)])
def test_copies_are_upright_resized_and_carry_no_exif(on_site, variant, long_side):
    client, job = on_site
    assert upload(client, job.id, camera_jpeg()).status_code == 201
    photo = db.session.scalar(db.select(Photo))

    data = storage.get(photo.display_key if variant == "display" else photo.thumb_key)

    with Image.open(io.BytesIO(data)) as copy:
        assert copy.format == "JPEG"
        assert copy.size == (long_side * 3 // 4, long_side)  # portrait, as the photo was taken
        assert "exif" not in copy.info and len(copy.getexif()) == 0
        assert not copy.getexif().get_ifd(GPS_IFD)
        assert "icc_profile" not in copy.info
        assert copy.info.get("progressive") or copy.info.get("progression")
        rgb = copy.convert("RGB")
        top, bottom = rgb.getpixel((copy.width // 2, 5)), rgb.getpixel((copy.width // 2, copy.height - 5))
    assert top[0] > 150 and top[2] < 80  # the red left half is on top once turned clockwise
    assert bottom[2] > 150 and bottom[0] < 80
    assert b"PhoneMaker" not in data and b"Exif" not in data


def test_capture_time_without_offset_is_read_in_the_centres_time_zone(s3_app, on_site):
    client, job = on_site
    s3_app.config["TIMEZONE"] = "Asia/Shanghai"
    assert upload(client, job.id, camera_jpeg(size=(400, 300), offset=None)).status_code == 201
    photo = db.session.scalar(db.select(Photo))
    assert photo.captured_dt == datetime(2024, 5, 5, 23, 8, 9, tzinfo=UTC)


def test_png_is_accepted_and_has_no_capture_time(on_site):
    client, job = on_site
    response = upload(client, job.id, png(), filename="screen.png")
    assert response.status_code == 201
    photo = db.session.scalar(db.select(Photo))
    assert (photo.content_type, photo.width, photo.height, photo.captured_dt) == ("image/png", 640, 480, None)


def test_heic_from_an_iphone_is_accepted_when_pillow_heif_is_installed(on_site):
    pillow_heif = pytest.importorskip("pillow_heif")
    client, job = on_site
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (320, 240), (10, 120, 200))).save(out, quality=70)

    response = upload(client, job.id, out.getvalue(), filename="IMG_0001.HEIC")

    assert response.status_code == 201, response.get_data(as_text=True)
    photo = db.session.scalar(db.select(Photo))
    assert photo.content_type == "image/heic"
    assert Image.open(io.BytesIO(storage.get(photo.display_key))).format == "JPEG"


# --- refusing what is not a photo ---------------------------------------------------------


def test_non_image_renamed_jpg_is_refused_and_nothing_is_stored(on_site):
    client, job = on_site
    response = upload(client, job.id, b"%PDF-1.4\n" + b"x" * 5000, filename="evidence.jpg")

    assert response.status_code == 422
    assert response.mimetype == "text/plain"
    assert "not a photo (JPEG, PNG, WebP or HEIC)" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Photo.id))) == 0
    assert bucket_keys() == []


def test_truncated_jpeg_is_refused_by_the_full_decode(on_site):
    client, job = on_site
    whole = camera_jpeg(size=(800, 600))
    response = upload(client, job.id, whole[: len(whole) // 2])
    assert response.status_code == 422
    assert bucket_keys() == []


def test_plain_form_post_of_a_non_image_flashes_the_reason_and_returns(on_site):
    client, job = on_site
    response = upload(client, job.id, b"GIF89a not really", htmx=False, next=f"/jobs/{job.id}")
    assert response.status_code == 303 and response.headers["Location"] == f"/jobs/{job.id}"
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "not a photo" in page
    assert bucket_keys() == []


def test_plain_form_post_stores_the_original_and_redirects_to_a_local_next_only(on_site):
    client, job = on_site
    response = upload(client, job.id, png(), htmx=False, next="https://evil.example/")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/jobs/{job.id}"
    assert db.session.scalar(db.select(db.func.count(Photo.id))) == 1


@pytest.mark.parametrize("app_config", [{"PHOTO_MAX_BYTES": 1 * MB, "MAX_CONTENT_LENGTH": 2 * MB}])
def test_oversize_upload_gets_413_and_nothing_is_stored(on_site, app_config):
    client, job = on_site
    too_big = camera_jpeg(size=(400, 300)) + secrets.token_bytes(3 * MB)  # still a valid JPEG start

    response = upload(client, job.id, too_big)

    assert response.status_code == 413
    assert "larger than allowed" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Photo.id))) == 0
    assert bucket_keys() == []


@pytest.mark.parametrize("app_config", [{"PHOTO_MAX_BYTES": 1 * MB, "MAX_CONTENT_LENGTH": 16 * MB}])
def test_photo_over_its_own_limit_gets_413_even_when_the_request_limit_is_higher(on_site, app_config):
    client, job = on_site
    response = upload(client, job.id, camera_jpeg(size=(400, 300)) + secrets.token_bytes(2 * MB))
    assert response.status_code == 413
    assert "larger than 1 MB" in response.get_data(as_text=True)
    assert bucket_keys() == []


def test_pixel_flood_is_refused_and_nothing_is_stored(on_site):
    client, job = on_site
    out = io.BytesIO()
    Image.new("1", (10000, 10000), 1).save(out, "PNG", optimize=True)  # 100 Mpx in a few KB
    assert len(out.getvalue()) < 100_000

    with pytest.warns(Image.DecompressionBombWarning):  # Pillow's own, softer limit
        response = upload(client, job.id, out.getvalue(), filename="flood.png")

    assert response.status_code == 422
    assert "too large in pixels" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Photo.id))) == 0
    assert bucket_keys() == []


def test_pixel_limit_is_checked_from_the_header_before_decoding(on_site):
    """A header claiming 9000x9000 followed by garbage: refused for its size, not its data."""
    client, job = on_site

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0))
    response = upload(client, job.id, header + chunk(b"IDAT", b"not deflate data"), filename="x.png")

    assert response.status_code == 422
    assert "too large in pixels" in response.get_data(as_text=True)


# --- who may upload and see ---------------------------------------------------------------


def test_access_to_photos_follows_the_job(s3_app, make, login, on_site):
    tech_client, job = on_site
    assert upload(tech_client, job.id, camera_jpeg(size=(800, 600))).status_code == 201
    photo = db.session.scalar(db.select(Photo))
    original = storage.get(photo.original_key)

    other_tech = login("technician")
    assert upload(other_tech, job.id, png()).status_code == 404
    for variant in ("thumb", "display", "original"):
        assert other_tech.get(f"/photos/{photo.id}/{variant}").status_code == 404

    for client in (tech_client, login("dispatcher"), login("supervisor"), login("reviewer")):
        response = client.get(f"/photos/{photo.id}/original")
        assert response.status_code == 302, client.user.role
        assert "no-store" in response.headers["Cache-Control"]
        assert response.headers["Location"].startswith(s3_app.config["S3_ENDPOINT_URL"])
        assert "X-Amz-Signature" in response.headers["Location"]
        assert fetch(response.headers["Location"]) == original
    thumb = tech_client.get(f"/photos/{photo.id}/thumb").headers["Location"]
    assert Image.open(io.BytesIO(fetch(thumb))).size == (240, 320)  # upright

    assert upload(login("reviewer"), job.id, png()).status_code == 403  # reviewers only look
    anonymous = s3_app.test_client()
    response = anonymous.get(f"/photos/{photo.id}/thumb")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert anonymous.get(f"/photos/{photo.id}/other").status_code == 404
    assert tech_client.get(f"/photos/{photo.id + 1000}/thumb").status_code == 404


def test_dispatcher_uploads_to_any_job(make, login):
    job = make.job("assigned")
    dispatcher = login("dispatcher")
    response = upload(dispatcher, job.id, png())
    assert response.status_code == 201


def test_photo_tied_to_another_jobs_diagnosis_is_refused(make, login, on_site):
    from fieldservice.models import Diagnosis

    client, job = on_site
    other = make.job("on_site")
    diagnosis = Diagnosis(job_id=other.id, technician_id=other.technician_id)
    db.session.add(diagnosis)
    db.session.commit()

    response = upload(client, job.id, png(), diagnosis_id=str(diagnosis.id))

    assert response.status_code == 422
    assert bucket_keys() == []


# --- a flaky connection -------------------------------------------------------------------


def test_retry_with_the_same_client_key_does_not_store_twice(on_site):
    client, job = on_site
    key = secrets.token_hex(16)
    first = upload(client, job.id, png(), client_key=key)
    keys_after_first = sorted(bucket_keys())

    second = upload(client, job.id, png(), client_key=key)

    assert first.status_code == second.status_code == 201
    assert db.session.scalar(db.select(db.func.count(Photo.id))) == 1
    assert sorted(bucket_keys()) == keys_after_first
    assert first.get_data() == second.get_data()


def test_another_users_client_key_is_refused(make, login, on_site):
    client, job = on_site
    key = secrets.token_hex(16)
    assert upload(client, job.id, png(), client_key=key).status_code == 201
    dispatcher = login("dispatcher")
    assert upload(dispatcher, job.id, png(), client_key=key).status_code == 422


# The object store stopped during an upload: tests/photos/test_store_outage.py (issue 7 drill).


# --- the sweep ----------------------------------------------------------------------------


def test_sweep_removes_an_orphan_object_and_nothing_else(on_site):
    client, job = on_site
    assert upload(client, job.id, png()).status_code == 201
    photo = db.session.scalar(db.select(Photo))
    orphan = storage.new_key("photos") + "/original"
    storage.put(orphan, io.BytesIO(b"left by a failed upload"), "image/jpeg")

    assert photo_service.sweep_orphans() == []  # too young: may be an upload in flight
    removed = photo_service.sweep_orphans(older_than=timedelta(0))

    assert removed == [orphan]
    assert sorted(bucket_keys()) == sorted(photo.keys)


def test_sweep_keeps_signatures(make, on_site):
    from fieldservice.models import Diagnosis

    _, job = on_site
    signature = storage.new_key("signatures")
    storage.put(signature, io.BytesIO(b"png"), "image/png")
    db.session.add(Diagnosis(job_id=job.id, technician_id=job.technician_id, signature_key=signature))
    db.session.commit()

    assert photo_service.sweep_orphans(older_than=timedelta(0)) == []
    assert bucket_keys() == [signature]


def test_storage_sweep_command_prints_what_it_removed(s3_app):
    orphan = storage.new_key("photos")
    storage.put(orphan, io.BytesIO(b"x"), "image/jpeg")

    result = s3_app.test_cli_runner().invoke(args=["storage-sweep", "--older-than-minutes", "0"])

    assert result.exit_code == 0, result.output
    assert f"removed {orphan}" in result.output
    assert bucket_keys() == []


# --- capture time read by the browser ---------------------------------------------------


@pytest.mark.parametrize("hint, expected", [
    ("2024-05-06T07:08:09+08:00", datetime(2024, 5, 5, 23, 8, 9, tzinfo=UTC)),
    ("2024-05-06T07:08:09", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),  # TIMEZONE is UTC in tests
    ("not a date", None),
    ("1970-01-01T00:00:00", None),
    ("2999-01-01T00:00:00", None),
])
def test_capture_time_read_by_the_browser_is_kept_for_a_scaled_photo(on_site, hint, expected):
    """A photo scaled in the browser has no EXIF left; photos.js sends the original's time."""
    client, job = on_site
    assert upload(client, job.id, png(), captured_at=hint).status_code == 201
    assert db.session.scalar(db.select(Photo.captured_dt)) == expected


def test_the_photos_own_exif_time_wins_over_the_browsers_hint(on_site):
    client, job = on_site
    data = camera_jpeg(size=(800, 600))
    assert upload(client, job.id, data, captured_at="2020-01-01T00:00:00").status_code == 201
    assert db.session.scalar(db.select(Photo.captured_dt)) == datetime(2024, 5, 5, 23, 8, 9, tzinfo=UTC)
