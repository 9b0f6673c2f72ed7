"""Issue 7 on a phone: a photo taken while the object store is down is kept by the server (202)
and photos.js treats it as done: its "saved, waiting for the store" tile joins the gallery, no
retry row, nothing left in IndexedDB; once the store is back and `flask photos-retry` ran, the
tile shows the photo from the store.

The store is a SeaweedFS of this test's own (loopback), stopped and started on the same port.
"""
from __future__ import annotations

import re

import pytest
from PIL import Image
from sqlalchemy import select

from fieldservice.extensions import db
from fieldservice.models import Photo
from tests.browser.conftest import app_on_store, assert_no_browser_problems, expect, shot, sign_in
from tests.conftest import PASSWORD, Factory
from tests.photos.test_store_outage import FAST_FAILING_STORE, OutageStore
from tests.s3_fixture import random_bucket_name, storage_config


@pytest.fixture
def outage_store(tmp_path):
    store = OutageStore(tmp_path / "weed")
    yield store
    store.stop()


@pytest.fixture
def live_app(database_url, outage_store, tmp_path):
    """The app on the test database, its object storage on this test's own SeaweedFS."""
    with app_on_store(database_url, storage_config(outage_store.server, random_bucket_name(), **FAST_FAILING_STORE),
                      drop_bucket_if=lambda: outage_store.server.running,
                      PENDING_PHOTOS_DIR=str(tmp_path / "pending")) as app:
        yield app


def test_photo_taken_while_the_store_is_down_is_kept_and_shown_once_sent(live_app, live_server, new_page,
                                                                          outage_store, tmp_path):
    with live_app.app_context():
        tech = Factory().user("technician", username="tech-outage")
        job_id = Factory().job("on_site", technician=tech).id
        db.session.remove()
    photo_file = tmp_path / "roller.jpg"
    Image.new("RGB", (1600, 1200), (150, 40, 30)).save(photo_file, "JPEG", quality=90)

    phone = new_page("phone")
    sign_in(phone, "tech-outage", PASSWORD)
    phone.goto(f"/jobs/{job_id}/diagnosis")
    gallery = phone.locator(f"#photos-{job_id}")
    outage_store.stop()

    phone.get_by_label("Take or choose photos").set_input_files([str(photo_file)])
    expect(gallery.locator(".photo-tile-pending")).to_have_count(1, timeout=30_000)
    expect(gallery.locator(".photo-tile-pending")).to_contain_text("waiting for the photo store")
    expect(phone.locator(".photo-pending .photo-row")).to_have_count(0)  # done: no retry offered
    shot(phone, "photo-store-down-pending-tile")

    # A reload: the tile comes from the server; the phone kept nothing to retry (IndexedDB).
    phone.reload()
    expect(gallery.locator(".photo-tile-pending")).to_have_count(1)
    expect(phone.locator(".photo-pending .photo-row")).to_have_count(0)
    expect(phone.locator("#messages")).not_to_contain_text("Photos not yet uploaded were kept")
    with live_app.app_context():
        [photo] = db.session.scalars(select(Photo)).all()
        assert photo.status == "pending"
        db.session.remove()

    outage_store.start_again()
    result = live_app.test_cli_runner().invoke(args=["photos-retry"])
    assert "1 pending photo(s) sent to the store, 0 still pending." in result.output, result.output

    phone.reload()
    expect(gallery.locator(".photo-tile-pending")).to_have_count(0)
    thumb = gallery.locator(".photo-tile img")
    expect(thumb).to_have_count(1)
    phone.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(),
                            timeout=10_000)
    assert re.search(rf"/photos/{photo.id}/thumb$", thumb.get_attribute("src"))
    shot(phone, "photo-store-back-stored-tile")
    assert_no_browser_problems(phone)
