"""Signing in and out: one generic message, throttling, sessions that really end, cookie flags,
and a `next` that never leaves the site."""
from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest

from fieldservice.extensions import db
from fieldservice.models import LoginFailure, User
from fieldservice.security import end_all_sessions
from tests.conftest import PASSWORD, Client

MAX_PER_ACCOUNT = 3
MAX_PER_ADDRESS = 5


@pytest.fixture
def app_config() -> dict:
    return {"LOGIN_MAX_FAILURES_PER_ACCOUNT": MAX_PER_ACCOUNT,
            "LOGIN_MAX_FAILURES_PER_ADDRESS": MAX_PER_ADDRESS}


def new_client(app, address: str = "127.0.0.1") -> Client:
    app.test_client_class = Client
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return c


def alert_text(response) -> str:
    """The text of the login page's error box."""
    match = re.search(r'<div class="alert" role="alert">(.*?)</div>', response.get_data(as_text=True), re.S)
    assert match, response.get_data(as_text=True)[:500]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def try_login(app, username: str, password: str, address: str = "127.0.0.1", next_url: str | None = None):
    c = new_client(app, address)
    c.fetch_csrf("/login" if next_url is None else f"/login?next={quote(next_url, safe='')}")
    data = {"username": username, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return c, c.post_form("/login", data)


def failures() -> int:
    return db.session.scalar(db.select(db.func.count(LoginFailure.id)))


# --- signing in --------------------------------------------------------------------------


def test_right_password_signs_in_and_lands_on_the_start_page(app, make):
    user = make.user("dispatcher")
    c, response = try_login(app, user.username, PASSWORD)
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/"
    start = c.get("/")
    assert urlsplit(start.headers["Location"]).path == "/dispatch/queue"
    page = c.get("/dispatch/queue")
    assert page.status_code == 200
    assert user.display_name in page.get_data(as_text=True)


def test_username_is_case_insensitive(app, make):
    user = make.user("reviewer")
    _, response = try_login(app, user.username.upper(), PASSWORD)
    assert response.status_code == 303


def test_wrong_password_and_unknown_user_get_the_same_single_message(app, make):
    user = make.user("technician")
    _, wrong = try_login(app, user.username, "not-the-password")
    _, unknown = try_login(app, "nobody-here", PASSWORD)
    inactive = make.user("technician", active=False)
    _, deactivated = try_login(app, inactive.username, PASSWORD)
    assert wrong.status_code == unknown.status_code == deactivated.status_code == 401
    assert alert_text(wrong) == alert_text(unknown) == alert_text(deactivated) == "Wrong username or password."
    for response in (wrong, unknown, deactivated):
        assert response.get_data(as_text=True).count('role="alert"') == 1
    assert failures() == 3


def test_login_form_without_csrf_token_signs_nobody_in(app, make):
    user = make.user("dispatcher")
    c = new_client(app)
    response = c.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 422
    assert urlsplit(c.get("/").headers["Location"]).path == "/login"


# --- throttling --------------------------------------------------------------------------


def test_account_is_throttled_after_max_failures_even_with_the_right_password(app, make):
    user = make.user("dispatcher")
    for i in range(MAX_PER_ACCOUNT):
        _, response = try_login(app, user.username, f"wrong-{i}", address=f"10.0.0.{i + 1}")
        assert response.status_code == 401
    # From yet another address, with the right password: still refused.
    c, response = try_login(app, user.username, PASSWORD, address="10.0.1.1")
    assert response.status_code == 429
    assert "Too many failed attempts" in alert_text(response)
    assert urlsplit(c.get("/").headers["Location"]).path == "/login"
    # The same counts for the username in another case.
    _, response = try_login(app, user.username.upper(), PASSWORD, address="10.0.1.2")
    assert response.status_code == 429
    # Other accounts are not affected.
    other = make.user("dispatcher")
    _, response = try_login(app, other.username, PASSWORD, address="10.0.1.3")
    assert response.status_code == 303


def test_failures_below_the_limit_are_cleared_by_a_successful_sign_in(app, make):
    user = make.user("dispatcher")
    for i in range(MAX_PER_ACCOUNT - 1):
        try_login(app, user.username, "wrong", address=f"10.1.0.{i + 1}")
    assert try_login(app, user.username, PASSWORD, address="10.1.1.1")[1].status_code == 303
    for i in range(MAX_PER_ACCOUNT - 1):
        try_login(app, user.username, "wrong", address=f"10.1.2.{i + 1}")
    assert try_login(app, user.username, PASSWORD, address="10.1.3.1")[1].status_code == 303


def test_address_is_throttled_across_accounts(app, make):
    victim = make.user("technician")
    # Guessing different (unknown) usernames from one address: no account reaches its limit.
    for i in range(MAX_PER_ADDRESS):
        _, response = try_login(app, f"guess{i}", "wrong", address="203.0.113.7")
        assert response.status_code == 401
    _, response = try_login(app, victim.username, PASSWORD, address="203.0.113.7")
    assert response.status_code == 429
    # Another address is not throttled.
    _, response = try_login(app, victim.username, PASSWORD, address="203.0.113.8")
    assert response.status_code == 303


def test_old_failures_outside_the_window_do_not_count(app, make):
    from datetime import timedelta

    from fieldservice.models import utcnow

    user = make.user("dispatcher")
    long_ago = utcnow() - timedelta(minutes=app.config["LOGIN_WINDOW_MINUTES"] + 1)
    db.session.add_all([LoginFailure(username=user.username, address="10.9.9.9", created_dt=long_ago)
                        for _ in range(MAX_PER_ADDRESS + 1)])
    db.session.commit()
    _, response = try_login(app, user.username, PASSWORD, address="10.9.9.9")
    assert response.status_code == 303


# --- sessions end ------------------------------------------------------------------------


def copy_session(src: Client, app) -> Client:
    """A second browser holding a copy of `src`'s session cookie (a stolen cookie)."""
    cookie = src.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    thief = new_client(app)
    thief.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    return thief


def sent_to_login(c: Client, url: str = "/jobs") -> bool:
    response = c.get(url)
    return response.status_code in (302, 303) and urlsplit(response.headers["Location"]).path == "/login"


def test_logout_makes_a_copied_session_cookie_useless(app, login):
    c = login("reviewer")
    thief = copy_session(c, app)
    assert thief.get("/jobs").status_code == 200  # the copy works while the session lives
    response = c.post_form("/logout")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert sent_to_login(c)
    assert sent_to_login(thief)
    # An htmx request with the old cookie is told to go to the login page.
    response = thief.htmx_get("/jobs", "jobs-table")
    assert response.status_code == 401
    assert urlsplit(response.headers["HX-Redirect"]).path == "/login"


def test_logout_ends_every_session_of_the_user(app, login, make):
    user = make.user("dispatcher")
    phone, desk = login(user), login(user)
    assert phone.get("/dispatch/queue").status_code == 200
    desk.post_form("/logout")
    assert sent_to_login(phone, "/dispatch/queue")


def test_signing_in_again_after_logout_works(app, login, make):
    user = make.user("dispatcher")
    c = login(user)
    c.post_form("/logout")
    again = login(user)
    assert again.get("/dispatch/queue").status_code == 200


def test_deactivating_a_user_ends_their_session(app, login, make):
    user = make.user("dispatcher")
    c = login(user)
    thief = copy_session(c, app)
    assert c.get("/dispatch/queue").status_code == 200
    user.active = False
    db.session.commit()
    assert sent_to_login(c, "/dispatch/queue")
    assert sent_to_login(thief, "/dispatch/queue")
    response = c.post_form("/jobs/1/assign", {"technician_id": "1", "version": "1"})
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_deactivate_user_command_ends_their_sessions(app, login, make):
    user = make.user("technician")
    c = login(user)
    thief = copy_session(c, app)
    assert c.get("/my-jobs").status_code == 200
    result = app.test_cli_runner().invoke(args=["deactivate-user", "--username", user.username])
    assert result.exit_code == 0, result.output
    assert sent_to_login(c, "/my-jobs")
    assert sent_to_login(thief, "/my-jobs")
    _, response = try_login(app, user.username, PASSWORD)
    assert response.status_code == 401


def test_a_reactivated_user_does_not_get_old_sessions_back(app, login, make):
    """Deactivation ends the sessions for good: reactivating must not revive a stolen cookie."""
    user = make.user("dispatcher")
    c = login(user)
    user.active = False
    db.session.commit()
    assert sent_to_login(c, "/dispatch/queue")
    user = db.session.get(User, user.id)
    user.active = True
    db.session.commit()
    assert sent_to_login(c, "/dispatch/queue")


def test_end_all_sessions_ends_existing_sessions(app, login, make):
    """The operation used for deactivation and password changes."""
    user = make.user("technician")
    c = login(user)
    assert c.get("/my-jobs").status_code == 200
    end_all_sessions(db.session.get(User, user.id))
    db.session.commit()
    assert sent_to_login(c, "/my-jobs")
    assert login(user).get("/my-jobs").status_code == 200


# --- the cookie --------------------------------------------------------------------------


def session_set_cookie(response, app) -> str:
    name = app.config["SESSION_COOKIE_NAME"]
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert headers, response.headers
    return headers[-1]


def test_session_cookie_is_httponly_and_samesite_lax(app, make):
    user = make.user("dispatcher")
    _, response = try_login(app, user.username, PASSWORD)
    header = session_set_cookie(response, app)
    attrs = [part.strip().lower() for part in header.split(";")]
    assert "httponly" in attrs
    assert "samesite=lax" in attrs
    assert "secure" not in attrs  # plain http in tests (SESSION_COOKIE_SECURE off)


class TestSecureCookie:
    @pytest.fixture
    def app_config(self) -> dict:
        return {"SESSION_COOKIE_SECURE": True}

    def test_session_cookie_is_secure_when_configured(self, app, make):
        user = make.user("dispatcher")
        c = new_client(app)
        c.environ_base["wsgi.url_scheme"] = "https"
        c.fetch_csrf("https://localhost/login")
        response = c.post_form("https://localhost/login", {"username": user.username, "password": PASSWORD},
                               headers={"Referer": "https://localhost/login"})
        assert response.status_code == 303
        attrs = [part.strip().lower() for part in session_set_cookie(response, app).split(";")]
        assert {"secure", "httponly", "samesite=lax"} <= set(attrs)


# --- next --------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "//evil.example", "//evil.example/jobs", "https://evil.example", "https://evil.example/",
    "http:evil.example", "/\\evil.example", "\\\\evil.example", "/\\/evil.example",
    " //evil.example", "/\t/evil.example", "javascript:alert(1)", "evil.example",
])
def test_next_cannot_leave_the_site(app, make, target):
    user = make.user("dispatcher")
    _, response = try_login(app, user.username, PASSWORD, next_url=target)
    assert response.status_code == 303
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.startswith("//"), location
    assert "\\" not in location and "evil" not in location, location


def test_next_keeps_a_local_path(app, make):
    user = make.user("dispatcher")
    _, response = try_login(app, user.username, PASSWORD, next_url="/jobs?status=new")
    assert response.status_code == 303
    assert response.headers["Location"] == "/jobs?status=new"


def test_anonymous_visit_is_sent_to_login_with_next_and_comes_back(app, make):
    user = make.user("dispatcher")
    c = new_client(app)
    response = c.get("/dispatch/board?day=2024-01-02")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and "next=" in location.query
    c.fetch_csrf(response.headers["Location"])
    html = c.get(response.headers["Location"]).get_data(as_text=True)
    next_value = re.search(r'<input id="next" name="next" type="hidden" value="([^"]*)">', html)
    assert next_value, html
    value = next_value.group(1).replace("&amp;", "&")
    response = c.post_form("/login", {"username": user.username, "password": PASSWORD, "next": value})
    assert response.headers["Location"] == "/dispatch/board?day=2024-01-02"


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil.example"])
def test_language_switch_next_cannot_leave_the_site(app, target):
    c = new_client(app)
    c.fetch_csrf("/login")
    response = c.post_form("/language", {"locale": "en", "next": target})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert not urlsplit(location).netloc and "\\" not in location and "evil" not in location, location
