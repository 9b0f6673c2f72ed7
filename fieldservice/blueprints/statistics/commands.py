"""Commands of the statistics area (top level: `flask weekly-summary`, `flask quality-watch`)."""
from __future__ import annotations

import click
from flask import current_app
from flask_babel import force_locale, get_locale, gettext

from ...extensions import db
from ...services.periods import PeriodError, iso_week, shift_week
from . import bp, operations as ops


def _week(value: str | None, default: str) -> str:
    if not value:
        return default
    try:
        return iso_week(value).name
    except PeriodError:
        raise click.BadParameter(f"{value!r} is not an ISO week; write it like 2026-W48.", param_hint="--week")


@bp.cli.command("weekly-summary")
@click.option("--week", help="ISO week, e.g. 2026-W48 (default: last week, the latest complete one).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the CSV to this file (default: standard output).")
@click.option("--lang", type=click.Choice(["zh_CN", "en"]), default=None,
              help="Language of the headers and labels (default: the app's default language).")
def weekly_summary_command(week, output, lang):
    """The weekly summary (policy 3.10) as CSV: the same rows as the page's CSV download."""
    from .routes import weekly_csv_text

    week = _week(week, shift_week(ops.current_week(), -1))
    lang = lang or current_app.config["BABEL_DEFAULT_LOCALE"]
    summary = ops.weekly_summary(week)
    with current_app.test_request_context(), force_locale(lang):
        text = weekly_csv_text(ops.summary_rows(summary, gettext, get_locale().language))
    if output:
        with open(output, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        click.echo(f"Weekly summary {week} written to {output}.", err=True)
    else:
        click.echo(text, nl=False)


@bp.cli.command("quality-watch")
@click.option("--week", help="ISO week, e.g. 2026-W48 (default: this week).")
@click.option("--weeks", type=click.IntRange(1, 104), default=1, show_default=True,
              help="Refresh this many weeks, ending with --week.")
def quality_watch_command(week, weeks):
    """Refresh the quality flags (policy 2.4) of a week, or of several weeks ending with it."""
    last = _week(week, ops.current_week())
    for offset in range(weeks - 1, -1, -1):
        name = shift_week(last, -offset)
        flags = ops.refresh_quality_flags(name)
        db.session.commit()
        click.echo(f"{name}: {len(flags)} flag(s)"
                   + "".join(f"\n  {f.product_model} / {f.fault_category.code}: {f.fault_count}/{f.model_total}"
                             + (" (acknowledged)" if f.acknowledged_dt else "") for f in flags))
