"""`flask storage-sweep`: remove stored objects (and pending photo files) that no record points
to. `flask photos-retry`: send photos kept while the object store was down (issue 7)."""
from __future__ import annotations

from datetime import timedelta

import click

from ...services import storage
from ...services.photos import process_pending_photos, sweep_orphans, sweep_pending_files
from . import bp


@bp.cli.command("storage-sweep")
@click.option("--older-than-minutes", default=60, show_default=True, type=click.IntRange(min=0),
              help="Spare objects and files younger than this (uploads still in flight).")
def storage_sweep(older_than_minutes: int) -> None:
    """Delete objects in the bucket that no photo or signature points to, and files in
    PENDING_PHOTOS_DIR that no pending photo names."""
    older_than = timedelta(minutes=older_than_minutes)
    # The local files first: they need no store, which may be the reason they are there.
    for name in sweep_pending_files(older_than=older_than):
        click.echo(f"removed pending file {name}")
    try:
        removed = sweep_orphans(older_than=older_than)
    except storage.StorageError as exc:
        raise click.ClickException(f"object store unavailable: {exc}") from exc
    for key in removed:
        click.echo(f"removed {key}")
    click.echo(f"{len(removed)} orphan object(s) removed.")


@bp.cli.command("photos-retry")
@click.option("--limit", default=None, type=click.IntRange(min=1),
              help="Send at most this many photos (default: all that are waiting).")
def photos_retry(limit: int | None) -> None:
    """Send photos kept on the server while the object store was down, oldest first.

    Safe to run from cron and on several machines at once: each photo is sent once. A store
    still down leaves them pending (the log says why); the next run tries again.
    """
    stored, still_pending = process_pending_photos(limit=limit)
    click.echo(f"{stored} pending photo(s) sent to the store, {still_pending} still pending.")
