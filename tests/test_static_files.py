"""Static files are linked with a content hash and cached for a year (issue 7: small pages on
weak signal); a link without the hash, or with an old page's old hash, still gets the file."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from fieldservice import templating

TEMPLATES = Path(__file__).resolve().parent.parent / "fieldservice" / "templates"
STATIC = Path(__file__).resolve().parent.parent / "fieldservice" / "static"
LINK_RE = re.compile(r'(?:src|href)="(/static/[^"]+)"')
YEAR = "public, max-age=31536000, immutable"


def sha12(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def static_links(html: str) -> list[str]:
    return LINK_RE.findall(html)


def test_pages_link_every_static_file_with_its_content_hash(client, login, make):
    tech = make.user("technician")
    job = make.job("on_site", technician=tech)
    pages = {"login": client.get("/login"), "job page": login(tech).get(f"/jobs/{job.id}")}
    for label, response in pages.items():
        links = static_links(response.get_data(as_text=True))
        assert "/static/css/app.min.css?v=" + sha12(STATIC / "css" / "app.min.css") in links, label
        assert "/static/js/app.min.js?v=" + sha12(STATIC / "js" / "app.min.js") in links, label
        assert "/static/vendor/htmx-2.0.11.min.js?v=" + sha12(STATIC / "vendor" / "htmx-2.0.11.min.js") in links
        for link in links:
            path, _, query = link.partition("?")
            assert query == "v=" + sha12(STATIC / path.removeprefix("/static/")), f"{label}: {link}"


def test_no_template_links_a_static_file_without_the_hash():
    for path in TEMPLATES.rglob("*.html"):
        source = path.read_text(encoding="utf-8")
        assert "url_for('static'" not in source and 'url_for("static"' not in source, path
        assert 'href="/static/' not in source and 'src="/static/' not in source, path


@pytest.fixture
def temp_static(app):
    """A file of our own in the app's static folder, removed afterwards."""
    path = Path(app.static_folder) / "css" / "zz-test-fingerprint.css"
    yield path
    path.unlink(missing_ok=True)


def test_the_hash_changes_when_the_file_changes(app, temp_static):
    temp_static.write_text("body { color: black; }\n")
    with app.test_request_context():
        first = templating.static_url("css/zz-test-fingerprint.css")
        assert first == "/static/css/zz-test-fingerprint.css?v=" + sha12(temp_static)
        assert templating.static_url("css/zz-test-fingerprint.css") == first  # cached, same answer

        temp_static.write_text("body { color: navy; }\n")
        # A deploy usually leaves the mtime newer; force a different one so the test does not
        # depend on the filesystem's timestamp resolution.
        stat = temp_static.stat()
        os.utime(temp_static, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        second = templating.static_url("css/zz-test-fingerprint.css")
    assert second == "/static/css/zz-test-fingerprint.css?v=" + sha12(temp_static)
    assert second != first


def test_a_missing_file_is_linked_without_a_version(app):
    with app.test_request_context():
        assert templating.static_url("css/no-such-file.css") == "/static/css/no-such-file.css"
        assert templating.static_url("../config.py") == "/static/../config.py"  # never hashed


def test_a_request_with_the_current_hash_is_cached_for_a_year(client):
    digest = sha12(STATIC / "css" / "app.css")
    response = client.get(f"/static/css/app.css?v={digest}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == YEAR
    assert response.get_data() == (STATIC / "css" / "app.css").read_bytes()


def test_signed_in_users_get_the_same_year_long_cache(client, login):
    digest = sha12(STATIC / "js" / "app.js")
    response = login("technician").get(f"/static/js/app.js?v={digest}")
    assert response.headers["Cache-Control"] == YEAR  # not the no-store of signed-in pages


def test_an_old_or_wrong_hash_still_serves_the_file_briefly_cached(client):
    """A phone holding a page from before a deploy asks for the old hash: it gets today's file
    (never a 404), cached only briefly so the next page's link fetches it again."""
    for url in ("/static/css/app.css?v=0123456789ab", "/static/css/app.css?v=", "/static/css/app.css"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.get_data() == (STATIC / "css" / "app.css").read_bytes(), url
        assert response.headers["Cache-Control"] == f"public, max-age={templating.STATIC_SHORT_MAX_AGE}", url
        assert "immutable" not in response.headers["Cache-Control"]


def test_a_missing_static_file_is_still_a_404(client):
    response = client.get("/static/css/no-such-file.css?v=0123456789ab")
    assert response.status_code == 404
    assert "immutable" not in response.headers.get("Cache-Control", "")


# --- minified builds (make assets) ---------------------------------------------------------


def test_the_committed_minified_builds_are_those_of_the_sources():
    from fieldservice.devtools import assets

    assert assets.sources(), "no sources found: the test would pass on nothing"
    assert assets.stale() == [], "run `make assets` and commit the .min files"


@pytest.fixture
def temp_source(app):
    """A source and its build of our own in the app's static folder, removed afterwards."""
    source = Path(app.static_folder) / "js" / "zz-test-asset.js"
    built = Path(app.static_folder) / "js" / "zz-test-asset.min.js"
    yield source, built
    source.unlink(missing_ok=True)
    built.unlink(missing_ok=True)


def test_pages_link_a_build_only_while_it_is_built_from_the_current_source(app, temp_source):
    from fieldservice.devtools import assets

    source, built = temp_source
    source.write_text("// a comment the build drops\nfunction answer () { return 42; }\n")
    with app.test_request_context():
        assert templating.static_url("js/zz-test-asset.js").startswith("/static/js/zz-test-asset.js?v=")  # no build yet
        assert assets.build(Path(app.static_folder)) == ["js/zz-test-asset.min.js"]
        assert "comment" not in built.read_text() and "return 42" in built.read_text()
        assert templating.static_url("js/zz-test-asset.js") == "/static/js/zz-test-asset.min.js?v=" + sha12(built)

        source.write_text("function answer () { return 4300; }\n")  # edited, not rebuilt
        stat = source.stat()
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert templating.static_url("js/zz-test-asset.js") == "/static/js/zz-test-asset.js?v=" + sha12(source)
        assert "js/zz-test-asset.min.js" in assets.stale(Path(app.static_folder))

        assets.build(Path(app.static_folder))
        assert templating.static_url("js/zz-test-asset.js").startswith("/static/js/zz-test-asset.min.js?v=")
        app.config["STATIC_MINIFIED"] = False
        try:
            assert templating.static_url("js/zz-test-asset.js").startswith("/static/js/zz-test-asset.js?v=")
        finally:
            app.config["STATIC_MINIFIED"] = True


def test_vendored_files_are_linked_as_they_are(app):
    with app.test_request_context():
        assert templating.static_url("vendor/htmx-2.0.11.min.js").startswith("/static/vendor/htmx-2.0.11.min.js?v=")
