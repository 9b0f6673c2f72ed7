"""Issue 7 fault drill: the object store stops while a technician documents a diagnosis.

Nothing the technician took may be lost (policy 3.7: the photos are the claim's evidence). The
diagnosis saves; photos that arrive meanwhile are kept on the server as "pending" (202) and
`flask photos-retry` sends them once the store is back, exactly once, byte for byte.

The drill stops and restarts a SeaweedFS of its own (loopback, same data directory and S3
port), never the session's shared one; the other tests make pending photos with
``ingest_photo(try_store=False)`` (what an upload does once the store was seen down) and send
them to the session's store, which is up.
"""
from __future__ import annotations

import hashlib
import io
import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fieldservice import create_app
from fieldservice.devtools.seaweed import SeaweedFS
from fieldservice.extensions import db
from fieldservice.models import AuditEvent, Diagnosis, FaultCategory, Photo
from fieldservice.services import photos as photo_service
from fieldservice.services import storage
from tests.conftest import Client, Factory, _config_dict, _empty_tables, is_postgres
from tests.photos.test_photos import bucket_keys, camera_jpeg, fetch, png, upload
from tests.s3_fixture import drop_bucket, random_bucket_name, storage_config

# A stopped store must fail a request in about a second, not after botocore's retries: this
# bounds the drill (SeaweedFS starts in ~1 s and stops in ~2 s).
FAST_FAILING_STORE = {"S3_MAX_ATTEMPTS": 1, "S3_CONNECT_TIMEOUT": 1, "S3_READ_TIMEOUT": 2}


def photo_count() -> int:
    return db.session.scalar(select(func.count(Photo.id)))


def pending_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def signature_png() -> bytes:
    from PIL import Image

    image = Image.new("RGBA", (600, 240), (255, 255, 255, 0))
    for x in range(50, 550):
        image.putpixel((x, 120 + (x % 30) - 15), (0, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def diagnosis_fields(fault: FaultCategory) -> dict:
    return {"symptom": "Conveyor stops after a minute.", "fault_category_id": str(fault.id),
            "root_cause": "Cracked drive roller.", "actions_taken": "Replaced the drive roller.",
            "guidance": "Keep the belt tension within the marks.", "outcome": "fixed",
            "customer_explanation": "", "contact_name": "Ms Wang"}


def add_fault() -> FaultCategory:
    group = FaultCategory(code="mechanical", name_en="Mechanical", name_zh="机械")
    leaf = FaultCategory(code="drive_belt", name_en="Belt and drive", name_zh="皮带与传动", parent=group)
    db.session.add_all([group, leaf])
    db.session.commit()
    return leaf


# --- the drill: a store of its own, stopped and started again ---------------------------------


class OutageStore:
    """A dedicated SeaweedFS the test may stop and start again on the same port and data."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.access_key = f"TEST{secrets.token_hex(6).upper()}"
        self.secret_key = secrets.token_urlsafe(24)
        self.server = SeaweedFS(directory, access_key=self.access_key, secret_key=self.secret_key).start()
        self.port = int(self.server.endpoint_url.rsplit(":", 1)[1])

    def stop(self) -> None:
        self.server.stop()

    def start_again(self) -> None:
        # The same S3 port: the app's client keeps its endpoint, as a real app would.
        self.server = SeaweedFS(self.directory, access_key=self.access_key, secret_key=self.secret_key,
                                s3_port=self.port).start()


@pytest.fixture
def outage(tmp_path, database_url):
    """(app, store, pending directory): the app on the test database and a store of its own."""
    store = OutageStore(tmp_path / "weed")
    pending = tmp_path / "pending"
    app = create_app({**_config_dict(), "SQLALCHEMY_DATABASE_URI": database_url,
                      **storage_config(store.server, random_bucket_name(), **FAST_FAILING_STORE),
                      "PENDING_PHOTOS_DIR": str(pending)})
    app.test_client_class = Client
    try:
        with app.app_context():
            _empty_tables()
            storage.ensure_bucket()
            yield app, store, pending
            db.session.remove()
            _empty_tables()
            db.engine.dispose()
            if store.server.running:
                drop_bucket()
    finally:
        store.stop()


def test_drill_store_stopped_during_a_diagnosis_photos_wait_and_are_sent_once(outage):
    app, store, pending_dir = outage
    fault = add_fault()
    tech = Factory().user("technician")
    job = Factory().job("on_site", technician=tech)
    client = app.test_client()
    assert client.login(tech.username).status_code == 303

    # A diagnosis draft with a photo and the contact's signature, while the store is up.
    draft = client.post_form(f"/jobs/{job.id}/diagnosis/draft", diagnosis_fields(fault), htmx_target="draft-status")
    assert draft.status_code == 200, draft.get_data(as_text=True)
    diagnosis = db.session.scalar(select(Diagnosis).where(Diagnosis.job_id == job.id))
    signed = client.post_form(f"/jobs/{job.id}/diagnosis/signature",
                              {"signature": (io.BytesIO(signature_png()), "signature.png")},
                              htmx_target="signature-block", content_type="multipart/form-data")
    assert signed.status_code == 200, signed.get_data(as_text=True)
    before = upload(client, job.id, png(colour=(10, 10, 10)), client_key="before-outage", diagnosis_id=str(diagnosis.id))
    assert before.status_code == 201
    keys_before_outage = sorted(bucket_keys())

    store.stop()

    # Two photos of the cracked roller while the store is down: kept, 202, "will be sent".
    sent = {"roller-1": camera_jpeg(size=(1200, 900)), "roller-2": camera_jpeg(size=(900, 1200), orientation=1)}
    for client_key, data in sent.items():
        response = upload(client, job.id, data, client_key=client_key, caption=f"Cracked roller {client_key}",
                          diagnosis_id=str(diagnosis.id))
        assert response.status_code == 202, response.get_data(as_text=True)
        html = response.get_data(as_text=True)
        assert "will be sent to the photo store when the store is back" in html
        assert "photo-tile-pending" in html and "<img" not in html  # no URL exists yet
    waiting = {p.client_key: p for p in db.session.scalars(select(Photo).where(Photo.status == "pending"))}
    assert sorted(waiting) == ["roller-1", "roller-2"]
    assert sorted(pending_files(pending_dir)) == sorted(p.pending_name for p in waiting.values())
    for client_key, photo in waiting.items():
        assert photo.sha256 == hashlib.sha256(sent[client_key]).hexdigest()
        assert photo.byte_size == len(sent[client_key]) and photo.diagnosis_id == diagnosis.id
        assert (pending_dir / photo.pending_name).read_bytes() == sent[client_key]
        assert client_key not in photo.pending_name  # a random name, never the user's
    assert (waiting["roller-1"].width, waiting["roller-1"].height) == (900, 1200)  # EXIF orientation 6

    # The diagnosis saves and is submitted: it does not need the store.
    submitted = client.post_form(f"/jobs/{job.id}/diagnosis", {**diagnosis_fields(fault), "action": "submit"},
                                 htmx_target="diagnosis-form")
    assert submitted.status_code == 204, submitted.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Diagnosis, diagnosis.id).status == "submitted"

    # The phone retries one photo (its answer was lost): the same row, nothing new kept.
    again = upload(client, job.id, sent["roller-1"], client_key="roller-1", diagnosis_id=str(diagnosis.id))
    assert again.status_code == 202
    assert f'id="photo-{waiting["roller-1"].id}"' in again.get_data(as_text=True)
    assert photo_count() == 3 and len(pending_files(pending_dir)) == 2

    # Pages that show the photos cope: the record shows placeholders, a photo's URL says why.
    record = client.get(f"/jobs/{job.id}/diagnosis")
    assert record.status_code == 200 and record.get_data(as_text=True).count("photo-tile-pending") == 2
    refused = client.get(f"/photos/{waiting['roller-1'].id}/thumb")
    assert refused.status_code == 409 and "photo store is back" in refused.get_data(as_text=True)

    # A retry run while the store is still down changes nothing and keeps the files.
    runner = app.test_cli_runner()
    db.session.rollback()
    still_down = runner.invoke(args=["photos-retry"])
    assert still_down.exit_code == 0, still_down.output
    assert "0 pending photo(s) sent to the store, 2 still pending." in still_down.output
    assert len(pending_files(pending_dir)) == 2

    store.start_again()
    assert sorted(bucket_keys()) == keys_before_outage  # the store kept what it had

    first = runner.invoke(args=["photos-retry"])
    assert first.exit_code == 0, first.output
    assert "2 pending photo(s) sent to the store, 0 still pending." in first.output
    db.session.expire_all()
    photos = {p.client_key: p for p in db.session.scalars(select(Photo))}
    assert len(photos) == 3 and {p.status for p in photos.values()} == {"stored"}
    assert pending_files(pending_dir) == []
    for client_key, data in sent.items():
        photo = photos[client_key]
        assert photo.pending_name is None
        original = storage.get(photo.original_key)
        assert original == data and hashlib.sha256(original).hexdigest() == photo.sha256
        assert storage.head(photo.display_key)["ContentType"] == "image/jpeg"
        assert storage.head(photo.thumb_key)["ContentType"] == "image/jpeg"
    keys_after = sorted(bucket_keys())
    assert len(keys_after) == len(keys_before_outage) + 6

    second = runner.invoke(args=["photos-retry"])
    assert "0 pending photo(s) sent to the store, 0 still pending." in second.output
    assert sorted(bucket_keys()) == keys_after
    stored_events = db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.entity_type == "photo", AuditEvent.action == "store"))
    assert stored_events == 2

    # The photos' URLs now redirect to presigned URLs that load.
    for client_key, data in sent.items():
        redirect = client.get(f"/photos/{photos[client_key].id}/original")
        assert redirect.status_code == 302
        assert fetch(redirect.headers["Location"]) == data
    assert client.get(f"/jobs/{job.id}/diagnosis").get_data(as_text=True).count("photo-tile-pending") == 0


def test_store_still_down_leaves_photos_pending_and_their_files_kept(outage):
    app, store, pending_dir = outage
    tech = Factory().user("technician")
    job = Factory().job("on_site", technician=tech)
    first = photo_service.ingest_photo(io.BytesIO(png()), uploader=tech, job=job, try_store=False)
    db.session.commit()
    client = app.test_client()
    assert client.login(tech.username).status_code == 303
    store.stop()
    # Without JavaScript: a plain form post, back to the page with a message, the photo kept.
    plain = upload(client, job.id, png(colour=(1, 2, 3)), htmx=False)
    assert plain.status_code == 303
    page = client.get(plain.headers["Location"]).get_data(as_text=True)
    assert "1 photo saved. The photo store is unavailable: it will be sent there when the store is back." in page
    second = db.session.scalar(select(Photo).where(Photo.id != first.id))

    assert photo_service.process_pending_photos() == (0, 2)

    db.session.expire_all()
    assert {p.status for p in db.session.scalars(select(Photo))} == {"pending"}
    assert pending_files(pending_dir) == sorted([first.pending_name, second.pending_name])


def test_a_photo_that_cannot_even_be_kept_answers_503_and_keeps_nothing(outage):
    """Store down and the pending directory unusable: the old answer, 503 "retry", no row."""
    app, store, pending_dir = outage
    blocker = pending_dir.parent / "not-a-directory"
    blocker.write_bytes(b"")
    app.config["PENDING_PHOTOS_DIR"] = str(blocker / "pending")
    tech = Factory().user("technician")
    job = Factory().job("on_site", technician=tech)
    client = app.test_client()
    assert client.login(tech.username).status_code == 303
    store.stop()

    response = upload(client, job.id, camera_jpeg(size=(800, 600)), client_key="k1")

    assert response.status_code == 503
    assert "not uploaded" in response.get_data(as_text=True).lower()
    assert photo_count() == 0
    assert upload(client, job.id, png(), htmx=False).status_code == 303  # a message, not a 500


# --- the queue against the session's store (up) ---------------------------------------------


@pytest.fixture
def app_config(tmp_path):
    return {"PENDING_PHOTOS_DIR": str(tmp_path / "pending")}


@pytest.fixture
def make(s3_app) -> Factory:
    return Factory()


@pytest.fixture
def on_site(s3_app, make):
    tech = make.user("technician")
    job = make.job("on_site", technician=tech)
    s3_app.test_client_class = Client
    client = s3_app.test_client()
    assert client.login(tech.username).status_code == 303
    client.user = tech
    return client, job


def keep_pending(tech, job, data: bytes, **kw) -> Photo:
    """What an upload does once the store was seen down: checked, kept on disk, row pending."""
    photo = photo_service.ingest_photo(io.BytesIO(data), uploader=tech, job=job, try_store=False, **kw)
    db.session.commit()
    assert photo.pending
    return photo


def test_pending_photo_keeps_its_keys_from_the_sweep_and_its_file_from_the_file_sweep(s3_app, on_site):
    client, job = on_site
    photo = keep_pending(client.user, job, png())
    directory = photo_service.pending_dir()
    orphan = directory / ("ab" * 16)  # left by an upload whose transaction rolled back
    orphan.write_bytes(b"orphan")
    partial = directory / f"{'cd' * 16}.part"  # a crash mid-copy
    partial.write_bytes(b"half")
    storage.put(photo.original_key, io.BytesIO(b"partial"), "image/png")  # a store that failed mid-way
    old = time.time() - 2 * 3600
    for path in (orphan, partial, directory / photo.pending_name):
        os.utime(path, (old, old))

    assert photo.original_key in photo_service.referenced_keys()
    assert photo_service.sweep_orphans(older_than=timedelta(0)) == []
    assert photo_service.sweep_pending_files() == sorted([orphan.name, partial.name])
    assert pending_files(directory) == [photo.pending_name]

    (directory / "ef").write_bytes(b"young")  # younger than an hour: may be in flight
    assert photo_service.sweep_pending_files() == []

    result = s3_app.test_cli_runner().invoke(args=["storage-sweep", "--older-than-minutes", "0"])
    assert result.exit_code == 0, result.output
    assert "removed pending file ef" in result.output
    assert pending_files(directory) == [photo.pending_name]


def test_queue_sends_oldest_first_within_its_limit_and_only_once(s3_app, on_site):
    client, job = on_site
    older = keep_pending(client.user, job, png(colour=(1, 1, 1)))
    newer = keep_pending(client.user, job, png(colour=(2, 2, 2)))

    assert photo_service.process_pending_photos(limit=1) == (1, 1)
    db.session.expire_all()
    assert (db.session.get(Photo, older.id).status, db.session.get(Photo, newer.id).status) == ("stored", "pending")

    assert photo_service.process_pending_photos() == (1, 0)
    assert photo_service.process_pending_photos() == (0, 0)
    assert sorted(bucket_keys()) == sorted([*older.keys, *newer.keys])


def test_a_successful_upload_sends_a_few_pending_photos_too(s3_app, on_site, app_config):
    client, job = on_site
    s3_app.config["PENDING_PHOTOS_PER_UPLOAD"] = 2
    waiting = [keep_pending(client.user, job, png(colour=(c, c, c))) for c in (1, 2, 3)]

    response = upload(client, job.id, png(colour=(9, 9, 9)), client_key="store-is-back")

    assert response.status_code == 201
    db.session.expire_all()
    statuses = [db.session.get(Photo, p.id).status for p in waiting]
    assert statuses == ["stored", "stored", "pending"]  # oldest first, bounded
    assert len(pending_files(photo_service.pending_dir())) == 1


def test_pending_photo_with_a_changed_file_is_not_sent(s3_app, on_site):
    """The SHA-256 recorded on arrival is the evidence: a file that no longer matches waits."""
    client, job = on_site
    photo = keep_pending(client.user, job, png())
    (photo_service.pending_dir() / photo.pending_name).write_bytes(png(colour=(255, 0, 0)))

    assert photo_service.process_pending_photos() == (0, 1)
    assert storage.head(photo.original_key) is None


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="row locks need PostgreSQL (set TEST_DATABASE_URL; .ci/run does)")
def test_a_photo_another_worker_holds_is_skipped_not_sent_twice(s3_app, on_site):
    client, job = on_site
    held = keep_pending(client.user, job, png(colour=(1, 1, 1)))
    free = keep_pending(client.user, job, png(colour=(2, 2, 2)))
    with db.engine.connect() as other_worker:
        other_worker.execute(select(Photo.id).where(Photo.id == held.id).with_for_update())

        assert photo_service.process_pending_photos() == (1, 1)

        other_worker.rollback()
    db.session.expire_all()
    assert (db.session.get(Photo, held.id).status, db.session.get(Photo, free.id).status) == ("pending", "stored")
    assert storage.head(held.original_key) is None
    assert photo_service.process_pending_photos() == (1, 0)


# --- claims with photos taken during an outage (policy 3.7) ----------------------------------


def test_pending_evidence_may_be_given_but_the_claim_waits_for_the_store(s3_app, on_site, make):
    from decimal import Decimal

    from fieldservice.blueprints.claims import operations as claims

    client, job = on_site
    tech = client.user
    diagnosis = Diagnosis(job=job, version=1, status="submitted", technician_id=tech.id, symptom="Cracked",
                          root_cause="Roller cracked", actions_taken="Photographed", outcome="fixed",
                          contact_name="Zhang", submitted_dt=job.created_dt)
    db.session.add(diagnosis)
    photo = keep_pending(tech, job, png())
    claim = claims.open_claim(tech, claims.ClaimData(claim_type="warranty_repair", description="Cracked roller",
                                                     amount_claimed=Decimal("100.00")), job=job, diagnosis=diagnosis)
    claims.add_evidence(claim, photo, tech)
    db.session.commit()

    with pytest.raises(claims.ClaimRefused) as refused:
        claims.submit_claim(claim, tech)
    with s3_app.test_request_context(headers={"Accept-Language": "en"}):  # translated lazily
        assert "still waiting for the photo store" in str(refused.value)
    db.session.rollback()
    [result] = claims.verify_evidence(claim)
    assert result.pending and result.ok is None
    reviewer = make.user("reviewer")
    s3_app.test_client_class = Client
    reviewer_client = s3_app.test_client()
    assert reviewer_client.login(reviewer.username).status_code == 303
    checked = reviewer_client.get(f"/claims/{claim.id}/integrity")
    assert checked.status_code == 200 and "not in the store yet" in checked.get_data(as_text=True)
    assert "photo-tile-pending" in checked.get_data(as_text=True)

    # Submitting sends the evidence first when the store is back (it is, here).
    response = client.post_form(f"/claims/{claim.id}/submit")
    assert response.status_code == 303, response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Photo, photo.id).status == "stored"
    assert claim.status == "submitted"
    assert claims.verify_evidence(claim)[0].ok is True
