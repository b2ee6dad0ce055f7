"""``flask cases export``: every case with its anamnesis, analyses and review, as JSON or CSV."""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from app.cli.common import fails_cleanly
from app.services import exports

cases = AppGroup("cases", help="Work with cases from the terminal: export.")


@cases.command("export", short_help="Export every case as JSON or CSV (streamed).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(exports.FORMATS, case_sensitive=False),
    default="json",
    show_default=True,
    help="json: one JSON array, a case per line; csv: a row per case, nested data as JSON.",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only cases created or changed (new analysis included) on or after this day, UTC.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to FILE (replaced only once the export is complete) instead of stdout.",
)
@fails_cleanly
def export(fmt: str, since: datetime | None, output: Path | None) -> None:
    """Export every case (all owners, archived included) for analysis or archiving.

    Each case comes with its patient facts, status and urgency, the anamnesis, every AI analysis
    (differential, tier, red flags, triage, errors) and the physician's review. Patients appear
    only under their pseudonymous reference; users only by id; no image bytes or storage keys.

    Streamed: memory stays flat however many cases there are. The summary line goes to stderr,
    so stdout holds only the export.

    \b
    Examples:
      flask cases export --format csv --output cases.csv
      flask cases export --since 2026-12-01 | jq length
    """
    fmt = fmt.lower()
    day = since.date() if since is not None else None
    if output is None:
        count = exports.export_cases(sys.stdout, fmt=fmt, since=day)
        sys.stdout.flush()
        where = "stdout"
    else:
        count = _export_to_file(output, fmt=fmt, since=day)
        where = str(output)
    scope = f" created or changed since {day.isoformat()}" if day else ""
    cases_text = f"{count} case{'s' if count != 1 else ''}"
    click.echo(f"Exported {cases_text}{scope} as {fmt} to {where}.", err=True)


def _export_to_file(output: Path, *, fmt: str, since: date | None) -> int:
    """Write the export to a private (0600) temporary file beside ``output``, then move it
    into place: a failed export never leaves a truncated file under the name asked for."""
    folder = output.resolve().parent
    if not folder.is_dir():
        raise click.ClickException(f"The folder {folder} does not exist; nothing was exported.")
    handle, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            count = exports.export_cases(out, fmt=fmt, since=since)
        os.replace(tmp_name, output)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return count
