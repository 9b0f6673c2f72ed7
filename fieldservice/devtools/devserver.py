"""`make run`: SeaweedFS on loopback with its data under instance/, and the app on :5000.

Ctrl-C stops both. Development only: production runs gunicorn against a real S3-compatible
store (see README).
"""
from __future__ import annotations

import logging
import os
import secrets
import signal
import sys

from ..config import INSTANCE_DIR
from .seaweed import SeaweedFS, SeaweedFSError

HOST = "127.0.0.1"


def _dev_credentials() -> tuple[str, str]:
    """The local store's keys: from the environment, else a secret kept in instance/."""
    access = os.environ.get("AWS_ACCESS_KEY_ID") or "fieldservice-dev"
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not secret:
        path = INSTANCE_DIR / "dev-s3-secret"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(30))
            path.chmod(0o600)
        secret = path.read_text().strip()
    return access, secret


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    # Ctrl-C and SIGTERM both stop the app and then the store (even when started in the
    # background, where a shell would otherwise leave SIGINT ignored).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    INSTANCE_DIR.mkdir(exist_ok=True)
    access, secret = _dev_credentials()
    s3_port = int(os.environ.get("DEV_S3_PORT", "8333"))
    app_port = int(os.environ.get("PORT", "5000"))
    store = SeaweedFS(INSTANCE_DIR / "seaweedfs", access, secret, s3_port=s3_port)
    print(f"Starting SeaweedFS (S3 on {HOST}:{s3_port}, data in instance/seaweedfs) ...", flush=True)
    try:
        store.start()
    except SeaweedFSError as error:
        print(f"SeaweedFS did not start: {error}", file=sys.stderr)
        print(f"Is port {s3_port} taken? Set DEV_S3_PORT to another port.", file=sys.stderr)
        return 1
    try:
        from .. import create_app
        from ..demo import demo_logins_text, seed_demo_media
        from ..services import storage

        app = create_app({
            "S3_ENDPOINT_URL": store.endpoint_url,
            "AWS_ACCESS_KEY_ID": access,
            "AWS_SECRET_ACCESS_KEY": secret,
        })
        with app.app_context():
            storage.ensure_bucket()
            if seed_demo_media():
                print("Demo signatures and photos stored in SeaweedFS.")
        logging.getLogger("werkzeug").setLevel(logging.INFO)
        print("\n" + demo_logins_text())
        print(f"\nfieldservice is at http://{HOST}:{app_port}  (Ctrl-C stops the app and SeaweedFS)\n",
              flush=True)
        app.run(host=HOST, port=app_port, debug=False, use_reloader=False, threaded=True)
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping SeaweedFS ...", flush=True)
        store.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
