"""Fixtures for the fault drills: a private PostgreSQL cluster the test may stop and start, the
app served over real HTTP (in a thread, or as a process the test may kill), and the people and
jobs the drills act on.

The drills never touch the session's database (TEST_DATABASE_URL) or the session's SeaweedFS:
what they break is their own.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, _config_dict
from tests.drills.webclient import free_port

PG_BIN_CANDIDATES = [os.environ.get("PG_BIN", ""), "/usr/lib/postgresql/15/bin",
                     *sorted((str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")), reverse=True)]


def find_pg_bin() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    for candidate in PG_BIN_CANDIDATES:
        if candidate and all((Path(candidate) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(candidate)
    return None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in a temporary directory, on a free loopback port.

    initdb refuses to run as root: as root, the cluster belongs to the `postgres` OS user
    (Debian's packages create it) and every command runs through `runuser`.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="fs-drill-pg-"))
        self.data_dir = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        result = subprocess.run([*self.as_user, str(self.bin_dir / tool), *args],  # noqa: S603
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip()}\n{self.log_tail()}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "--no-sync",
                  "-E", "UTF8", "--locale=C")

    def start(self) -> None:
        # The socket stays in our own directory (not /var/run/postgresql, the system cluster's).
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-t", "30",
                  "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def destroy(self) -> None:
        if self.running():
            with contextlib.suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private cluster; skipped where the PostgreSQL server binaries are missing."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin "
                    "or $PG_BIN; install postgresql-15 to run this drill")
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a 'postgres' OS user: initdb refuses root")
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: initdb cannot be run as another user")
    cluster = PrivatePostgres(bin_dir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def drill_config(database_url: str, **overrides) -> dict:
    """The test settings, but not in testing mode: errors go through the app's error pages, as
    in production (TestConfig's TESTING=True lets an unexpected error reach the test instead)."""
    return {**_config_dict(), "TESTING": False, "SQLALCHEMY_DATABASE_URI": database_url, **overrides}


def migrate_and_seed(app, technicians: int = 1, jobs_per_technician: int = 2, job_status: str = "assigned") -> dict:
    """Build the schema with the migrations; add a dispatcher, technicians and their jobs.

    Returns the names and ids the drill needs (no ORM objects: the session is closed).
    """
    from flask_migrate import upgrade

    from fieldservice.blueprints.dispatch import operations as ops
    from fieldservice.cli import create_user
    from fieldservice.extensions import db
    from fieldservice.models import Customer, Region

    with app.app_context():
        upgrade()
        # Alembic's logging.config.fileConfig disabled every logger that existed before it: the
        # app's own must log again, the drills quote them when something fails.
        for logger in logging.root.manager.loggerDict.values():
            if isinstance(logger, logging.Logger):
                logger.disabled = False
        region = Region(code="north", name="North")
        db.session.add(region)
        dispatcher = create_user("drilldispatcher", PASSWORD, "dispatcher", "Drill Dispatcher", region)
        people = {"dispatcher": dispatcher.username, "region_id": None, "technicians": []}
        for t in range(technicians):
            tech = create_user(f"drilltech{t}", PASSWORD, "technician", f"Drill Tech {t}", region)
            job_ids = []
            for j in range(jobs_per_technician):
                customer = Customer(name=f"Customer {t}-{j}", phone="010 5555 0000", address="1 Factory Road",
                                    region=region)
                db.session.add(customer)
                db.session.flush()
                job = ops.log_request(actor=dispatcher, customer=customer, request_type="fault_repair",
                                      priority="normal", description="Machine stops with error E42.",
                                      product_model="PX-200", product_serial=f"SN-{t}-{j}")
                ops.assign_job(job, tech, dispatcher, job.version)
                for step in {"assigned": [], "on_site": ["start_travel", "check_in"]}[job_status]:
                    ops.transition_job(job, step, tech, None, reason="drill")
                job_ids.append(job.id)
            people["technicians"].append({"username": tech.username, "job_ids": job_ids})
        db.session.commit()
        people["region_id"] = region.id
        db.session.remove()
        db.engine.dispose()
    return people


class ThreadedServer:
    """The app under werkzeug's threaded WSGI server, in a thread of the test process."""

    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="drill-server", daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return bool(value)
        time.sleep(interval)


class ServerLog(logging.Handler):
    """Keeps the app's and the server's errors (with tracebacks) for a drill's failure message."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def __enter__(self) -> ServerLog:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger().removeHandler(self)

    def unexpected(self, limit: int = 2) -> str:
        """The first few errors other than the expected "database error on ..." lines."""
        found = [line for line in self.lines if "database error on" not in line]
        return "\n\n".join(found[:limit]) or "(nothing logged)"


# --- the app as a process the drill may kill ----------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


class AppProcess:
    """The app under gunicorn (as in production), in its own process group on a free port.

    ``kill()`` is SIGKILL to the whole group, master and worker at once: the worker is cut off
    wherever it is, as by the OOM killer or a power cut, and nothing of it runs on.
    """

    def __init__(self, env: dict[str, str], log_path: Path, threads: int = 4) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.threads = threads
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        from tests.drills.webclient import wait_for_http

        gunicorn = Path(sys.executable).with_name("gunicorn")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv
                [str(gunicorn), "-w", "1", "--threads", str(self.threads), "-b", f"127.0.0.1:{self.port}",
                 "--graceful-timeout", "2", "--log-level", "warning", "app:app"],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        try:
            wait_for_http(self.base_url, "/healthz", timeout=timeout)
        except TimeoutError as exc:
            self.kill()
            raise RuntimeError(f"{exc}\n{self.log_tail()}") from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """A clean stop (SIGTERM: gunicorn finishes the requests in flight)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture
def drill_seaweed() -> Iterator:
    """A SeaweedFS of the drill's own (never the session's shared one)."""
    import secrets

    from fieldservice.devtools.seaweed import SeaweedFS, SeaweedFSError, find_weed

    try:
        find_weed()
    except SeaweedFSError as exc:
        pytest.skip(str(exc))
    root = Path(tempfile.mkdtemp(prefix="fs-drill-weed-"))
    server = SeaweedFS(root, access_key=f"DRILL{secrets.token_hex(8).upper()}", secret_key=secrets.token_urlsafe(30))
    try:
        with server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)
