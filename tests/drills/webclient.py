"""A browser-like HTTP client for the fault drills and bench/soak.py: cookies, the CSRF token
the pages carry, forms posted the way a browser or htmx posts them, and photo uploads.

Plain http.client, one connection per request: a drill kills or restarts servers under it, and
a request must end in an answer or an error of its own, never on a connection left over from
before. Loopback only.
"""
from __future__ import annotations

import http.client
import re
import secrets
import socket
import time
import urllib.parse
from dataclasses import dataclass, field

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


@dataclass
class Reply:
    """One answer: status, headers (lower-case names) and body as text."""

    status: int
    headers: dict[str, str]
    text: str
    seconds: float = 0.0

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class TransportError(Exception):
    """No HTTP answer at all (refused, reset, timed out)."""


@dataclass
class Browser:
    """One signed-in person's browser: its own cookies and CSRF token."""

    base_url: str
    timeout: float = 30.0
    language: str = "en"
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str | None = None

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    # -- requests ---------------------------------------------------------------------------

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept-Language": self.language, "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers.update(extra or {})
        return headers

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        started = time.perf_counter()
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=self.headers(headers))
            return self.read_reply(conn, started)
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(f"{method} {path}: {exc!r}") from exc
        finally:
            conn.close()

    def read_reply(self, conn: http.client.HTTPConnection, started: float) -> Reply:
        response = conn.getresponse()
        body = response.read().decode("utf-8", errors="replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                cookie, _, attributes = value.partition(";")
                key, _, val = cookie.strip().partition("=")
                if "expires=thu, 01 jan 1970" in attributes.lower() or not val:
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = val
        reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body,
                      time.perf_counter() - started)
        match = CSRF_RE.search(body)
        if match:
            self.csrf = match.group(1) or match.group(2)
        return reply

    def get(self, path: str, htmx_target: str | None = None) -> Reply:
        extra = {"HX-Request": "true", "HX-Target": htmx_target} if htmx_target else None
        return self.request("GET", path, headers=extra)

    def post_form(self, path: str, data: dict | list | None = None, htmx_target: str | None = None) -> Reply:
        """POST like a browser form (token in the body), or like htmx (token in a header)."""
        items = list(data.items()) if isinstance(data, dict) else list(data or [])
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if htmx_target is not None:
            headers.update({"HX-Request": "true", "HX-Target": htmx_target, "X-CSRFToken": self.csrf or ""})
        else:
            items.append(("csrf_token", self.csrf or ""))
        return self.request("POST", path, urllib.parse.urlencode(items).encode(), headers)

    def upload_photo(self, job_id: int, photo: bytes, client_key: str | None = None, **fields) -> Reply:
        """Send a photo the way static/js/photos.js does (htmx headers, multipart body)."""
        body, content_type = multipart({"client_key": client_key or secrets.token_hex(16), **fields},
                                       ("photo", "photo.jpg", "image/jpeg", photo))
        return self.request("POST", f"/jobs/{job_id}/photos", body, {
            "Content-Type": content_type, "HX-Request": "true", "X-CSRFToken": self.csrf or ""})

    # -- signing in -------------------------------------------------------------------------

    def login(self, username: str, password: str) -> Reply:
        self.get("/login")
        reply = self.post_form("/login", {"username": username, "password": password})
        if reply.status != 303:
            raise AssertionError(f"sign-in of {username} answered {reply.status}: {reply.text[:300]}")
        # Signing in starts a new session (and CSRF secret): follow the redirects to a page
        # that carries the new token.
        page, location = reply, reply.location
        for _ in range(5):
            if page.status not in (301, 302, 303) or not location.startswith("/"):
                break
            page = self.get(location)
            location = page.location
        if not self.csrf:
            raise AssertionError(f"no CSRF token on the start page of {username}")
        return reply


def multipart(fields: dict[str, str], *files: tuple[str, str, str, bytes]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = secrets.token_hex(16)
    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, content_type, data in files:
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                      f"Content-Type: {content_type}\r\n\r\n".encode())
        chunks.append(data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(base_url: str, path: str = "/healthz", timeout: float = 30.0, ok=(200,)) -> None:
    """Return once ``path`` answers one of ``ok``; raise after ``timeout`` seconds."""
    probe = Browser(base_url, timeout=2)
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            reply = probe.get(path)
            if reply.status in ok:
                return
            last = f"status {reply.status}"
        except TransportError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{base_url}{path} did not answer in {timeout:.0f} s ({last})")
