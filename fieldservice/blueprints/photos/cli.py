"""`flask storage-sweep`: remove stored objects that no record points to."""
from __future__ import annotations

from datetime import timedelta

import click

from ...services import storage
from ...services.photos import sweep_orphans
from . import bp


@bp.cli.command("storage-sweep")
@click.option("--older-than-minutes", default=60, show_default=True, type=click.IntRange(min=0),
              help="Spare objects younger than this (uploads still in flight).")
def storage_sweep(older_than_minutes: int) -> None:
    """Delete objects in the bucket that no photo or signature points to."""
    try:
        removed = sweep_orphans(older_than=timedelta(minutes=older_than_minutes))
    except storage.StorageError as exc:
        raise click.ClickException(f"object store unavailable: {exc}") from exc
    for key in removed:
        click.echo(f"removed {key}")
    click.echo(f"{len(removed)} orphan object(s) removed.")
