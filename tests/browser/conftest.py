"""Browser fixtures: the app on a real HTTP port, Debian's Chromium driven by Playwright.

The tests here are skipped where Chromium (/usr/bin/chromium) or Playwright is missing,
unless REQUIRE_BROWSER=1 (CI sets it): then a missing browser is a failure, not a skip.
Never `playwright install`: the system Chromium is used through `executable_path`.

Fixtures:
  live_server     base URL of the app served by werkzeug in a daemon thread (tables emptied)
  live_app        that Flask app (push `live_app.app_context()` to make data with Factory); its
                  object storage is the session's SeaweedFS (`seaweed`), in a bucket of its own
  browser         one Chromium for the session
  new_page(kind)  a page in a fresh context ("phone": 390x844 touch, "desktop": 1280x800);
                  page.problems collects console errors, page errors and CSP violations
  phone_page, desktop_page   one such page each
  zh_catalog      the zh_CN .po catalogue (compiled to .mo before the server starts)
Helpers: shot(page, name) saves a numbered full-page screenshot in tests/browser/screenshots/;
sign_in, check_in_and_open (My jobs -> check in -> a card's link), assert_images_loaded,
full_size_original (an "Open full size" link followed to the store), app_on_store (the app
with its tables emptied and a bucket of its own, for a fixture that brings its own store).
"""
from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fieldservice import create_app
from fieldservice.extensions import db
from tests.conftest import _config_dict, _empty_tables
from tests.s3_fixture import drop_bucket, random_bucket_name, storage_config

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "fieldservice" / "translations"
# The Chinese catalogue: Babel parses "zh_CN" as zh_Hans_CN, so the folder may carry either name.
ZH_FOLDERS = ("zh_Hans_CN", "zh_CN", "zh_Hans", "zh")


def zh_po_path() -> Path | None:
    for folder in ZH_FOLDERS:
        path = TRANSLATIONS / folder / "LC_MESSAGES" / "messages.po"
        if path.exists():
            return path
    return None

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright
    PLAYWRIGHT_IMPORT_ERROR: str | None = None
except ImportError as error:  # pragma: no cover - depends on the machine
    PlaywrightError = Exception  # type: ignore[assignment,misc]
    expect = sync_playwright = None  # type: ignore[assignment]
    PLAYWRIGHT_IMPORT_ERROR = str(error)


def _missing_browser() -> str | None:
    if not CHROMIUM.exists():
        return (f"Chromium not found at {CHROMIUM}: browser tests skipped; "
                "install it with apt-get install -y chromium")
    if PLAYWRIGHT_IMPORT_ERROR is not None:
        return (f"Playwright for Python cannot be imported ({PLAYWRIGHT_IMPORT_ERROR}): browser tests "
                "skipped; install it with pip install -r requirements-dev.txt")
    return None


def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser carries the `browser` marker (-m 'not browser' leaves them out)."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", autouse=True)
def _require_browser() -> None:
    reason = _missing_browser()
    if reason is None:
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but: {reason}", pytrace=False)
    pytest.skip(reason)


# --- translations ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def zh_catalog():
    """The zh_CN catalogue, compiled to .mo first so the live server uses the current text."""
    from babel.messages.pofile import read_po

    po = zh_po_path()
    if po is None:
        tried = ", ".join(f"fieldservice/translations/{f}/LC_MESSAGES/messages.po" for f in ZH_FOLDERS)
        pytest.fail(f"No Chinese catalogue (tried {tried}): the language switch cannot be tested. "
                    "Run `make extract-messages` and translate.", pytrace=False)
    result = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "compile", "-d", str(TRANSLATIONS)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"Compiling the catalogues failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
    with po.open("rb") as f:
        catalog = read_po(f, locale="zh_CN")
    catalog.path = po
    return catalog


def zh(catalog, msgid: str) -> str:
    """The Chinese text of `msgid`; fails clearly when the catalogue lacks it."""
    message = catalog.get(msgid)
    if message is None or not message.string or message.fuzzy:
        state = "missing" if message is None else ("fuzzy" if message.fuzzy else "untranslated")
        where = getattr(catalog, "path", "the zh catalogue")
        pytest.fail(f"{where}: {msgid!r} is {state}", pytrace=False)
    return message.string


# --- the app on a real port --------------------------------------------------------------


@contextmanager
def app_on_store(database_url: str, store_settings: dict, drop_bucket_if: Callable[[], bool] = lambda: True,
                 **config) -> Iterator[object]:
    """The app on the test database (tables emptied before and after) with its object storage
    `store_settings` (tests.s3_fixture.storage_config), its bucket made first and dropped after
    (when `drop_bucket_if()`: a test that stops its store cannot drop the bucket)."""
    from fieldservice.services import storage

    app = create_app({**_config_dict(), "SQLALCHEMY_DATABASE_URI": database_url, **store_settings, **config})
    with app.app_context():
        _empty_tables()
        storage.ensure_bucket()
        db.session.remove()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            _empty_tables()
            db.engine.dispose()
            if drop_bucket_if():
                drop_bucket()


@pytest.fixture
def live_app(database_url, zh_catalog, seaweed):
    """The app on the test database, its object storage on the session's SeaweedFS (a fresh
    bucket per test, dropped at the end: `weed mini` has only a few dozen volumes)."""
    with app_on_store(database_url, storage_config(seaweed, random_bucket_name())) as app:
        yield app


@pytest.fixture
def live_server(live_app) -> Iterator[str]:
    """The base URL (http://127.0.0.1:PORT) of the app served in a daemon thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


# --- the browser -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(_require_browser):
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# Reports CSP violations to the test (the init script runs before the page's own scripts).
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.__reportCsp(e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
                     " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture
def new_page(browser, live_server) -> Iterator[Callable[..., object]]:
    """new_page("phone" | "desktop", locale="en-US") -> a page in its own context (own cookies)."""
    contexts = []

    def _new(kind: str = "desktop", locale: str = "en-US"):
        options = {"phone": PHONE, "desktop": DESKTOP}[kind]
        context = browser.new_context(base_url=live_server, locale=locale, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        problems: list[str] = []
        context.expose_binding("__reportCsp", lambda source, text: problems.append(
            f"[after {getattr(source['page'], 'last_step', 'start')}] CSP violation: {text}"))
        context.add_init_script(_CSP_LISTENER)
        page = context.new_page()
        page.on("console", lambda msg: problems.append(
            f"[after {getattr(page, 'last_step', 'start')}] console.{msg.type}: {msg.text} "
            f"({msg.location.get('url')}:{msg.location.get('lineNumber')})") if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(
            f"[after {getattr(page, 'last_step', 'start')}] page error: {exc}"))
        page.problems = problems  # type: ignore[attr-defined]
        page.kind = kind  # type: ignore[attr-defined]
        return page

    yield _new
    for context in contexts:
        try:
            context.close()
        except PlaywrightError:
            pass


@pytest.fixture
def desktop_page(new_page):
    return new_page("desktop")


@pytest.fixture
def phone_page(new_page):
    return new_page("phone")


# --- helpers -----------------------------------------------------------------------------

_shot_numbers = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def _fresh_screenshots_dir() -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()


def shot(page, name: str) -> Path:
    """Save a full-page screenshot as tests/browser/screenshots/NN-<kind>-<name>.png."""
    kind = getattr(page, "kind", "page")
    path = SCREENSHOTS / f"{next(_shot_numbers):02d}-{kind}-{name}.png"
    # caret="initial": the default ("hide") leaves style="" on every input, which htmx's settle
    # step then copies onto the swapped-in fields, a CSP violation the app itself never causes.
    page.screenshot(path=str(path), full_page=True, caret="initial")
    page.last_step = name  # problems seen from now on are tagged "after <name>"
    return path


def seed_demo_data(app, media: bool = False) -> None:
    """`make run`'s demo data (the fault taxonomy too: the tables were emptied), with its photos
    and signatures in the object store when `media`."""
    from fieldservice.demo import seed_demo, seed_demo_media
    from tests.conftest import insert_default_taxonomy

    with app.app_context():
        insert_default_taxonomy()
        seed_demo()
        db.session.commit()
        if media:
            seed_demo_media()
        db.session.remove()


def sign_in(page, username: str, password: str, catalog=None) -> None:
    """Sign in through /login as a person would: by the fields' labels.

    Pass the zh catalogue (fixture zh_catalog) for a page whose browser asks for Chinese.
    """
    text = (lambda msgid: zh(catalog, msgid)) if catalog is not None else (lambda msgid: msgid)
    page.goto("/login")
    page.get_by_label(text("Username"), exact=True).fill(username)
    page.get_by_label(text("Password"), exact=True).fill(password)
    page.get_by_role("button", name=text("Sign in")).click()
    page.wait_for_url(lambda url: "/login" not in url)


FAVICON_404 = "status of 404"


def assert_no_browser_problems(page) -> None:
    """No console error, uncaught exception or CSP violation so far on `page`.

    The browser's own request for /favicon.ico answering 404 is only warned about.
    """
    problems = []
    for problem in getattr(page, "problems", []):
        if FAVICON_404 in problem and "/favicon.ico" in problem:
            warnings.warn(f"no favicon: {problem}", stacklevel=2)
        else:
            problems.append(problem)
    assert not problems, "console errors / page errors / CSP violations:\n" + "\n".join(problems)


# --- steps and checks several flows share --------------------------------------------------

JOB_REFERENCE = re.compile(r"J\d{6}")


def check_in_and_open(phone, job_id: int, link_name: str, username: str, password: str) -> str:
    """On a phone: sign in, check in at the job from My jobs, then tap the card's `link_name`
    link (what the check-in offers next). Returns the job's reference as the card shows it."""
    sign_in(phone, username, password)
    phone.wait_for_url(re.compile(r"/my-jobs$"))
    card = phone.locator(f"#job-card-{job_id}")
    expect(card).to_be_visible()
    reference = JOB_REFERENCE.search(card.locator(".ref").inner_text()).group(0)
    card.get_by_role("button", name="Arrived — check in").tap()
    expect(card).to_contain_text("Done: On site.")
    link = card.get_by_role("link", name=link_name, exact=True)
    expect(link).to_be_visible()
    shot(phone, f"checked-in-{link_name.lower().replace(' ', '-')}")
    link.tap()
    return reference


def assert_images_loaded(page, images, what: str) -> None:
    """Each <img> decoded (naturalWidth > 0): the presigned URL answered and CSP let it in."""
    count = images.count()
    assert count, f"{what}: no images"
    for i in range(count):
        img = images.nth(i)
        img.scroll_into_view_if_needed()  # thumbnails are loading="lazy"
        try:
            page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                                   arg=img.element_handle(), timeout=10_000)
        except Exception as error:  # noqa: BLE001 - reported with the URL
            raise AssertionError(f"{what}: image {i} ({img.get_attribute('src')}) did not load: {error}") from error


def full_size_original(page, tile, store_endpoint: str) -> bytes:
    """Follow a photo tile's "Open full size" link as the browser would (the app's 302 to a
    presigned URL): it must end at the object store with a JPEG; returns the bytes."""
    href = tile.get_by_role("link", name="Open full size").get_attribute("href")
    response = page.request.get(href)
    assert response.ok, f"{href}: {response.status}"
    assert response.url.startswith(store_endpoint), f"{href} ended at {response.url}"
    assert response.headers["content-type"].startswith("image/jpeg"), response.headers
    return response.body()
