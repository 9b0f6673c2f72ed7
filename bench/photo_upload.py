"""Benchmark: photo uploads (issue 3). Not a test: it records numbers in bench/RESULTS.md.

1. Server memory: SeaweedFS + the app under gunicorn (-w 2 --threads 4, SQLite file database
   built by `flask db upgrade`); ten ~8 MB random-noise JPEGs are uploaded at once by ten
   threads signed in as a technician. The RSS of the gunicorn process tree (master + workers)
   is sampled every 50 ms from /proc; the report gives the peak and its growth over idle.
   Target: growth under 100 MB.
2. Bytes sent after the browser scales an 8 MB photo: the real static/js/photos.js runs in
   Debian's Chromium (Playwright) on a page of the running app; the upload request's body is
   measured. Target: under 600 KB. Measured for a camera-like photo (smooth scene with sensor
   grain) and, as the worst case, for pure random noise (which no camera produces).

Run:  python bench/photo_upload.py [--no-browser] [--no-record]
"""
from __future__ import annotations

import argparse
import http.cookiejar
import io
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "RESULTS.md"
PASSWORD = "bench-pass-1234"  # noqa: S105 - a throwaway account in a throwaway database
MB = 1024 * 1024
TARGET_GROWTH_MB = 100
TARGET_SENT_KB = 600
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def make_app(config: dict | None = None):
    """The gunicorn entry point: the app, with the photos blueprint until create_app has it."""
    from fieldservice import create_app
    from fieldservice.blueprints.photos import bp

    config = dict(config or {})
    if os.environ.get("PHOTO_MAX_CONCURRENT"):  # until config.py reads it
        config["PHOTO_MAX_CONCURRENT"] = int(os.environ["PHOTO_MAX_CONCURRENT"])
    app = create_app(config)
    if "photos" not in app.blueprints:
        app.register_blueprint(bp)
    return app


# --- photos ------------------------------------------------------------------------------


def noise_jpeg(target_bytes: int = 8 * MB) -> bytes:
    """Random noise saved at quality 95: about ``target_bytes`` (noise barely compresses)."""
    from PIL import Image

    side = 2000
    data = b""
    for _ in range(4):
        image = Image.frombytes("RGB", (side * 4 // 3, side), os.urandom(side * 4 // 3 * side * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=95)
        data = out.getvalue()
        side = int(side * (target_bytes / len(data)) ** 0.5)
        if abs(len(data) - target_bytes) < 0.05 * target_bytes:
            break
    return data


def camera_like_jpeg(target_bytes: int = 8 * MB) -> bytes:
    """A 12 MP scene (gradients, shapes) with sensor grain, at quality 98: about 8 MB."""
    import random

    from PIL import Image, ImageDraw, ImageFilter

    size = (4032, 3024)
    rnd = random.Random(7)
    scene = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(scene)
    for _ in range(60):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        r = rnd.randrange(40, 600)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rnd.randrange(256) for _ in range(3)))
    scene = scene.filter(ImageFilter.GaussianBlur(6))
    grain_level = 24
    data = b""
    for _ in range(6):
        grain = Image.effect_noise(size, grain_level).convert("RGB")
        photo = Image.blend(scene, grain, 0.18)
        out = io.BytesIO()
        photo.save(out, "JPEG", quality=98)
        data = out.getvalue()
        if abs(len(data) - target_bytes) < 0.08 * target_bytes:
            break
        grain_level = max(1, int(grain_level * (target_bytes / len(data)) ** 1.5))
    return data


# --- the server --------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(env: dict[str, str]) -> dict:
    """Migrate the database, create the bucket, a technician and a job on site."""
    from flask_migrate import upgrade

    from fieldservice.blueprints.dispatch import operations as ops
    from fieldservice.cli import create_user
    from fieldservice.extensions import db
    from fieldservice.models import Customer, Region
    from fieldservice.services import storage

    app = make_app({
        "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "S3_ENDPOINT_URL": env["S3_ENDPOINT_URL"],
        "S3_BUCKET": env["S3_BUCKET"], "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"], "SECRET_KEY": env["SECRET_KEY"],
    })
    with app.app_context():
        upgrade()
        storage.ensure_bucket()
        region = Region(code="north", name="North")
        db.session.add(region)
        dispatcher = create_user("benchdispatcher", PASSWORD, "dispatcher", "Dispatcher", region)
        tech = create_user("benchtech", PASSWORD, "technician", "Technician", region)
        customer = Customer(name="Bench customer", phone="010 0000 0000", address="1 Road", region=region)
        db.session.add(customer)
        db.session.flush()
        job = ops.log_request(actor=dispatcher, customer=customer, request_type="fault_repair",
                              priority="normal", description="Bench", product_model="PX-200")
        ops.assign_job(job, tech, dispatcher, job.version)
        for step in ("start_travel", "check_in"):
            ops.transition_job(job, step, tech, None, reason="bench")
        db.session.commit()
        return {"job_id": job.id, "app": app}


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def tree_rss_kb(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
        todo += children(pid)
    return total


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.stop_flag = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            time.sleep(0.05)


class Session:
    """A signed-in browser-like client on urllib (cookies + CSRF token)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect())
        self.csrf = ""

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.read().decode()

    def token_from(self, html: str) -> str:
        match = CSRF_RE.search(html)
        assert match, "no CSRF token"
        return match.group(1) or match.group(2)

    def login(self, username: str, page: str) -> None:
        token = self.token_from(self.get("/login"))
        body = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrf_token": token}).encode()
        request = urllib.request.Request(self.base + "/login", data=body, method="POST")
        try:
            self.opener.open(request, timeout=30)
        except urllib.error.HTTPError as exc:
            assert exc.code == 303, exc.code
        self.csrf = self.token_from(self.get(page))

    def upload(self, job_id: int, data: bytes, client_key: str) -> int:
        boundary = secrets.token_hex(16)
        parts = [
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"client_key\"\r\n\r\n{client_key}\r\n".encode(),
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n".encode(), data, f"\r\n--{boundary}--\r\n".encode(),
        ]
        request = urllib.request.Request(
            f"{self.base}/jobs/{job_id}/photos", data=b"".join(parts), method="POST",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                     "HX-Request": "true", "X-CSRFToken": self.csrf})
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def wait_up(base: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


# --- the browser part --------------------------------------------------------------------


def browser_bytes_sent(base: str, app, job_id: int, photo_path: Path) -> dict:
    """Sign in with Chromium, add the uploader to the job page, choose the photo, measure."""
    from flask import render_template
    from playwright.sync_api import sync_playwright

    with app.test_request_context(f"/jobs/{job_id}"):
        from fieldservice.models import Job
        from fieldservice.extensions import db

        uploader_html = render_template("photos/_uploader.html", job=db.session.get(Job, job_id), photos=[])

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/login")
        page.fill("input[name=username]", "benchtech")
        page.fill("input[name=password]", PASSWORD)
        page.click("main form button.primary")
        page.wait_for_load_state("networkidle")
        page.goto(f"{base}/jobs/{job_id}")
        # The diagnosis page will include the uploader; until then it is added to the job page.
        page.evaluate("html => document.querySelector('main').insertAdjacentHTML('beforeend', html)",
                      uploader_html)
        page.add_script_tag(url="/static/js/photos.js")
        started = time.monotonic()
        with page.expect_response(lambda r: r.url.endswith(f"/jobs/{job_id}/photos"), timeout=60_000) as info:
            page.set_input_files("input[name=photo]", str(photo_path))
        status = info.value.status
        page.wait_for_selector(f"#photos-{job_id} .photo-tile", timeout=30_000)
        elapsed = time.monotonic() - started
        browser.close()
    # Playwright does not expose an XHR Blob body; the server's access log gives its size.
    return {"status": status, "seconds": elapsed, "errors": errors}


# --- main --------------------------------------------------------------------------------


def machine() -> str:
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"`{uname}`; nproc {nproc}; {mem_kb / MB:.1f} GiB RAM"


class Server:
    """gunicorn -w 2 --threads 4 serving the app, with an access log of request body sizes."""

    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.env, self.port = env, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.access_log = work / f"access-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-w", "2", "--threads", "4",
             "-b", f"127.0.0.1:{self.port}", "--log-level", "warning",
             "--access-logfile", str(self.access_log),
             "--access-logformat", "%(m)s %(U)s %(s)s %({content-length}i)s",
             "bench.photo_upload:make_app()"],
            cwd=ROOT, env={**os.environ, **self.env})
        wait_up(self.base)
        time.sleep(1.0)
        return self

    def __exit__(self, *exc) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def last_upload_body_size(self, path: str) -> int | None:
        for line in reversed(self.access_log.read_text().splitlines()):
            method, url, _status, length = (line.split() + ["-"] * 4)[:4]
            if method == "POST" and url == path and length.isdigit():
                return int(length)
        return None


def memory_run(server: Server, job_id: int, noise: list[bytes]) -> dict:
    """Idle RSS, then the peak while ten photos upload at once."""
    assert server.process is not None
    pid = server.process.pid
    fresh_idle = tree_rss_kb(pid)
    session = Session(server.base)
    session.login("benchtech", f"/jobs/{job_id}")
    # Warm up: each worker imports Pillow, builds its S3 client, opens its database pool.
    small = noise_jpeg(300_000)
    warm = [session.upload(job_id, small, secrets.token_hex(8)) for _ in range(4)]
    assert all(code == 201 for code in warm), warm
    time.sleep(1.0)
    idle = tree_rss_kb(pid)
    clients = []
    for _ in range(10):
        client = Session(server.base)
        client.login("benchtech", f"/jobs/{job_id}")
        clients.append(client)
    statuses = [0] * 10

    def send(n: int) -> None:
        statuses[n] = clients[n].upload(job_id, noise[n], secrets.token_hex(8))

    sampler = Sampler(pid)
    sampler.start()
    started = time.monotonic()
    threads = [threading.Thread(target=send, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    time.sleep(0.3)
    sampler.stop_flag.set()
    sampler.join()
    return {"statuses": statuses, "elapsed": elapsed, "fresh": fresh_idle, "idle": idle,
            "peak": sampler.peak_kb, "after": tree_rss_kb(pid)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-record", action="store_true", help="print only, do not append to RESULTS.md")
    args = parser.parse_args()

    from fieldservice.devtools.seaweed import SeaweedFS

    work = Path(tempfile.mkdtemp(prefix="bench-photos-"))
    weed = SeaweedFS(work / "weed", access_key=f"BENCH{secrets.token_hex(6).upper()}",
                     secret_key=secrets.token_urlsafe(24))
    lines: list[str] = []
    try:
        weed.start()
        env = {"DATABASE_URL": f"sqlite:///{work / 'bench.db'}", "S3_ENDPOINT_URL": weed.endpoint_url,
               "S3_BUCKET": "bench", "AWS_ACCESS_KEY_ID": weed.access_key,
               "AWS_SECRET_ACCESS_KEY": weed.secret_key, "SECRET_KEY": secrets.token_hex(32),
               "FIELDSERVICE_ENV": "development"}
        prepared = prepare(env)
        job_id, app = prepared["job_id"], prepared["app"]
        print("making photos...", flush=True)
        noise = [noise_jpeg() for _ in range(10)]
        camera = camera_like_jpeg()
        sizes = sorted(len(n) / MB for n in noise)

        lines += [
            f"### Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"- Date: `{subprocess.run(['date', '-u'], capture_output=True, text=True).stdout.strip()}`",
            f"- Machine: {machine()}",
            f"- Python {platform.python_version()}; gunicorn -w 2 --threads 4; SQLite file; "
            f"SeaweedFS on loopback; PHOTO_MAX_CONCURRENT={os.environ.get('PHOTO_MAX_CONCURRENT', '2 (default)')}",
            "",
            "**Ten ~8 MB photos uploaded at once** (random-noise JPEGs, quality 95, "
            f"{sizes[0]:.2f}–{sizes[-1]:.2f} MB, {noise_dims(noise[0])}; 10 client threads). RSS of the "
            "gunicorn tree (master + 2 workers), sampled every 50 ms from /proc.",
            "",
            f"| malloc setting | statuses | wall time | fresh RSS | idle RSS (after warm-up) | peak RSS "
            f"| **growth over idle** (target < {TARGET_GROWTH_MB} MB) | RSS after |",
            "|---|---|---|---|---|---|---|---|",
        ]
        variants = [("glibc default", {}), ("MALLOC_ARENA_MAX=2", {"MALLOC_ARENA_MAX": "2"})]
        for label, extra in variants:
            with Server({**env, **extra}, work) as server:
                m = memory_run(server, job_id, noise)
                growth = (m["peak"] - m["idle"]) / 1024
                ok = "✅" if growth < TARGET_GROWTH_MB else "❌"
                lines.append(
                    f"| {label} | {'all 201' if set(m['statuses']) == {201} else m['statuses']} "
                    f"| {m['elapsed']:.2f} s | {m['fresh'] / 1024:.0f} MB | {m['idle'] / 1024:.0f} MB "
                    f"| {m['peak'] / 1024:.0f} MB | **{growth:.0f} MB** {ok} | {m['after'] / 1024:.0f} MB |")
                print(lines[-1], flush=True)
                if args.no_browser or extra:
                    continue
                browser_lines = [
                    "",
                    "**Bytes sent for an 8 MB photo after photos.js scales it** "
                    f"({chromium_version()}, headless, Playwright; at most 2048 px, JPEG 0.85; size "
                    "is the upload request's Content-Length in gunicorn's access log, multipart "
                    "framing and form fields included)",
                    "",
                    f"| photo | file | sent (target < {TARGET_SENT_KB} KB) | status | time to tile |",
                    "|---|---|---|---|---|",
                ]
                for name, data in (("camera-like (12 MP scene with grain, q98)", camera),
                                   ("random noise (worst case, no camera makes it)", noise[0])):
                    path = work / "photo.jpg"
                    path.write_bytes(data)
                    result = browser_bytes_sent(server.base, app, job_id, path)
                    sent = server.last_upload_body_size(f"/jobs/{job_id}/photos")
                    ok = "✅" if sent is not None and sent < TARGET_SENT_KB * 1024 else "❌"
                    browser_lines.append(
                        f"| {name}, {noise_dims(data)} | {len(data) / MB:.2f} MB "
                        f"| {'?' if sent is None else f'{sent / 1024:.0f} KB'} {ok} "
                        f"| {result['status']} | {result['seconds']:.2f} s |")
                    if result["errors"]:
                        browser_lines.append(f"| ↳ browser errors: {'; '.join(result['errors'])[:300]} | | | | |")
                    print(browser_lines[-1], flush=True)
        lines += [""] + browser_lines[1:] if not args.no_browser else []
        lines.append("")
    finally:
        weed.stop()
        shutil.rmtree(work, ignore_errors=True)

    print("\n".join(lines))
    if not args.no_record:
        if not RESULTS.exists():
            RESULTS.write_text(HEADER)
        text = RESULTS.read_text()
        if "## Photo upload (bench/photo_upload.py)" not in text:
            text = text.rstrip("\n") + "\n\n## Photo upload (bench/photo_upload.py)\n\n" + SECTION_INTRO
        RESULTS.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines).rstrip("\n") + "\n")
        print(f"appended to {RESULTS}")
    return 0


def noise_dims(data: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return f"{image.width}×{image.height}"


def chromium_version() -> str:
    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except OSError:
        return "?"


HEADER = """# Benchmark results

Benchmarks live in bench/; each run appends its numbers below, with the date (`date -u`) and
the machine (`uname -a`, CPUs, RAM) recorded per run. Numbers from different machines are not
comparable; compare runs of the same machine.
"""

SECTION_INTRO = """Issue 3: the server streams uploads (target: peak memory growth under 100 MB while ten
8 MB photos upload at once) and the browser scales photos before sending (target: under
600 KB for an 8 MB camera photo). Run: `python bench/photo_upload.py`.
Memory is measured twice: with glibc's default malloc arenas, and with MALLOC_ARENA_MAX=2
(the setting recommended for the gunicorn service: threaded Python servers otherwise keep
freed memory in up to 8 arenas per CPU).
"""


if __name__ == "__main__":
    sys.exit(main())
