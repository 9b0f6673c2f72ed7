"""Security headers on every kind of response, no inline script anywhere, and a production
app that refuses to start without a real SECRET_KEY."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from fieldservice import create_app
from fieldservice.config import DEV_SECRET_KEY

TEMPLATES = Path(__file__).resolve().parent.parent / "fieldservice" / "templates"
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
EVENT_ATTR = re.compile(r"\son[a-z]+\s*=", re.I)
HX_ON_ATTR = re.compile(r"\shx-on(?::|-|\b)", re.I)
JS_URL = re.compile(r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.I)


def csp_directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no CSP on {response.request.path}"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_security_headers(response):
    csp = csp_directives(response)
    assert "script-src" in csp, csp
    assert "'self'" in csp["script-src"]
    for directive in ("script-src", "default-src", "style-src"):
        for bad in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"):
            assert bad not in csp.get(directive, []), f"{directive} allows {bad}"
    assert csp.get("frame-ancestors") == ["'none'"]
    assert csp.get("object-src") == ["'none'"]
    assert csp.get("base-uri") == ["'self'"]
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin"


def assert_no_inline_script(html: str, where: str):
    for attrs in SCRIPT_TAG.findall(html):
        assert re.search(r"\bsrc\s*=", attrs), f"inline <script> in {where}"
    # Anything between <script ...> and </script> must be empty.
    for body in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.I | re.S):
        assert not body.strip(), f"<script> with a body in {where}"
    assert not EVENT_ATTR.search(html), f"inline event handler in {where}: {EVENT_ATTR.search(html).group(0)}"
    assert not HX_ON_ATTR.search(html), f"hx-on (inline script for htmx) in {where}"
    assert not JS_URL.search(html), f"javascript: URL in {where}"


@pytest.fixture
def pages(app, client, login, make):
    """One of each kind of response, as (label, response, signed_in)."""
    dispatcher = make.user("dispatcher")
    tech = make.user("technician")
    job = make.job("assigned", technician=tech, dispatcher=dispatcher)
    make.job("escalated", technician=tech, dispatcher=dispatcher)
    c = login(dispatcher)
    t = login(tech)
    s = login("supervisor")
    return [
        ("login page", client.get("/login"), False),
        ("health check", client.get("/healthz"), False),
        ("anonymous redirect", client.get("/jobs"), False),
        ("anonymous htmx 401", client.htmx_get("/jobs", "jobs-table"), False),
        ("anonymous 404", client.get("/no-such-page"), False),
        ("static css", client.get("/static/css/app.css"), False),
        ("static js", client.get("/static/js/app.js"), False),
        ("queue page", c.get("/dispatch/queue"), True),
        ("new request page", c.get("/requests/new"), True),
        ("board page", c.get("/dispatch/board"), True),
        ("jobs page", c.get("/jobs"), True),
        ("job page", c.get(f"/jobs/{job.id}"), True),
        ("job panel fragment", c.htmx_get(f"/jobs/{job.id}", "job-panel"), True),
        ("queue fragment", c.htmx_get("/dispatch/queue", "queue-results"), True),
        ("my jobs page", t.get("/my-jobs"), True),
        ("my jobs fragment", t.htmx_get("/my-jobs", "my-jobs-list"), True),
        ("escalations page", s.get("/escalations"), True),
        ("signed-in 404", c.get("/jobs/999999"), True),
        ("signed-in htmx 404", c.htmx_get("/jobs/999999", "job-panel"), True),
        ("403 page", t.get("/dispatch/queue"), True),
        ("technician 404 on other job", login("technician").get(f"/jobs/{job.id}"), True),
        ("signed-in static", c.get("/static/css/app.css"), True),
        ("csrf 400", c.post(f"/jobs/{job.id}/assign", data={}), True),
    ]


def test_every_response_carries_the_security_headers(pages):
    for label, response, _ in pages:
        try:
            assert_security_headers(response)
        except AssertionError as error:
            raise AssertionError(f"{label} ({response.status_code}): {error}") from None


def test_statuses_of_the_sampled_responses(pages):
    """The sample really holds each kind of response."""
    statuses = {label: response.status_code for label, response, _ in pages}
    assert statuses["anonymous 404"] == statuses["signed-in 404"] == 404
    assert statuses["anonymous htmx 401"] == 401
    assert statuses["403 page"] == 403
    assert statuses["technician 404 on other job"] == 404
    assert statuses["csrf 400"] == 400
    assert statuses["static css"] == statuses["static js"] == 200
    assert statuses["job panel fragment"] == 200


def test_authenticated_responses_are_not_cached(pages):
    for label, response, signed_in in pages:
        if signed_in and "static" not in label:
            assert "no-store" in response.headers.get("Cache-Control", ""), label


def test_rendered_pages_have_no_inline_script(pages):
    for label, response, _ in pages:
        if response.mimetype == "text/html":
            assert_no_inline_script(response.get_data(as_text=True), label)


def test_pages_load_their_scripts_from_the_app_itself(pages):
    for label, response, _ in pages:
        if response.mimetype == "text/html":
            for src in re.findall(r'<script\b[^>]*\bsrc="([^"]+)"', response.get_data(as_text=True)):
                assert src.startswith("/static/"), f"{label}: {src}"


def test_static_files_referenced_by_the_pages_exist(client):
    html = client.get("/login").get_data(as_text=True)
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(src).status_code == 200, src


TEMPLATE_FILES = sorted(TEMPLATES.rglob("*.html"))


def test_there_are_templates_to_scan():
    assert len(TEMPLATE_FILES) >= 10


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=[str(p.relative_to(TEMPLATES)) for p in TEMPLATE_FILES])
def test_templates_have_no_inline_script_or_event_handlers(path: Path):
    source = path.read_text(encoding="utf-8")
    # Jinja comments may talk about anything; scan the markup.
    source = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
    assert_no_inline_script(source, str(path.relative_to(TEMPLATES)))
    assert not re.search(r"\bstyle\s*=", source), "inline style attribute (style-src 'self' blocks it)"
    assert "<style" not in source.lower(), "inline <style> block (style-src 'self' blocks it)"


def test_htmx_is_configured_without_eval(client):
    html = client.get("/login").get_data(as_text=True)
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', html)
    assert config
    assert '"allowEval":false' in config.group(1)
    assert '"allowScriptTags":false' in config.group(1)


# --- production ---------------------------------------------------------------------------


def _production(**overrides) -> dict:
    return {"ENV_NAME": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://", **overrides}


@pytest.mark.parametrize("key", [None, "", DEV_SECRET_KEY, "short-key"], ids=["missing", "empty", "default", "short"])
def test_production_refuses_a_missing_or_default_secret_key(key):
    config = _production(SECRET_KEY=key)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(config)


def test_production_refuses_the_built_in_default_key():
    """No SECRET_KEY in the settings or the environment: the built-in default is refused."""
    from fieldservice.config import Config

    if Config.SECRET_KEY != DEV_SECRET_KEY:
        pytest.skip("SECRET_KEY is set in this environment")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(_production())


def test_production_starts_with_a_real_secret_key():
    app = create_app(_production(SECRET_KEY="f" * 8 + "0123456789abcdef" * 3))
    assert app.config["ENV_NAME"] == "production"
    assert app.secret_key


def test_the_test_settings_are_not_production(app):
    assert app.config["ENV_NAME"] != "production"
