"""``flask storage purge-orphans``: stored objects without an image row, and rows without one."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

from app.cli.common import fails_cleanly, quiet_logs
from app.services import maintenance

storage = AppGroup("storage", help="Maintain the image store (S3 bucket or local folder).")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@storage.command("purge-orphans", short_help="Find and delete orphan images (objects or rows).")
@click.option("--dry-run", is_flag=True, help="Only report the orphans; delete nothing.")
@click.option(
    "--min-age",
    "min_age_minutes",
    type=click.IntRange(min=0),
    default=int(maintenance.ORPHAN_MIN_AGE.total_seconds() // 60),
    show_default=True,
    metavar="MINUTES",
    help="Leave objects without a row younger than this alone (they may be uploads in progress).",
)
@fails_cleanly
def purge_orphans(dry_run: bool, min_age_minutes: int) -> None:
    """Report, and unless --dry-run delete, the two kinds of orphan image.

    \b
    - objects under cases/ that no image row names (an upload whose row was never written);
    - image rows whose object is missing (the photo can no longer be shown or analysed).

    Every deletion is audited (image.purge for a row, image.purge_object for an object). Objects
    younger than --min-age are listed but never deleted. Exits 0 when the job completed, whatever
    it found.
    """
    with quiet_logs():  # the report below says what the log line would
        report = maintenance.purge_orphans(
            dry_run=dry_run, min_age=timedelta(minutes=min_age_minutes)
        )
    verb = "would delete" if dry_run else "deleted"

    click.echo(f"Objects without an image row: {len(report.objects)}")
    for orphan in report.objects:
        click.echo(f"  {verb}  {orphan.key}  (written {orphan.modified_at:%Y-%m-%d %H:%M} UTC)")
    click.echo(f"Image rows without an object: {len(report.rows)}")
    for row in report.rows:
        click.echo(f"  {verb}  image {row.image_id} of case {row.case_id}  ({row.storage_key})")
    if report.recent:
        click.echo(
            f"Left alone: {_plural(len(report.recent), 'object')} without a row written less "
            f"than {min_age_minutes} minutes ago (may be uploads in progress):"
        )
        for orphan in report.recent:
            click.echo(f"  kept  {orphan.key}  (written {orphan.modified_at:%Y-%m-%d %H:%M} UTC)")

    objects, rows = _plural(len(report.objects), "object"), _plural(len(report.rows), "image row")
    if dry_run:
        click.echo(f"\nDry run: nothing deleted. Without --dry-run: {objects} and {rows} go.")
    else:
        click.echo(f"\nDeleted {objects} and {rows}.")
