"""``flask cases export``: every case with its anamnesis, analyses and review, as JSON, CSV or
FHIR R4 NDJSON."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO

import click
from flask.cli import AppGroup

from app.cli.common import fails_cleanly
from app.services import exports, fhir
from app.services.clinical_record import archive

cases = AppGroup("cases", help="Work with cases from the terminal: export, unarchive.")


#: ``--format`` values: the case exports, and FHIR R4 resources as NDJSON.
FORMATS = (*exports.FORMATS, "fhir")


@cases.command("export", short_help="Export every case as JSON, CSV or FHIR NDJSON (streamed).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS, case_sensitive=False),
    default="json",
    show_default=True,
    help="json: one JSON array, a case per line; csv: a row per case, nested data as JSON; "
    "fhir: FHIR R4 resources as NDJSON, one per line (Bulk Data layout, one stream).",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only cases created or changed (new analysis included) on or after this day, UTC.",
)
@click.option(
    "--purpose",
    type=click.Choice(exports.PURPOSES, case_sensitive=False),
    default="records",
    show_default=True,
    help="records: every case, the clinical record (archiving, a transfer to another "
    "system). teaching: only the cases whose patient's current teaching/research consent is "
    "granted (never asked, refused or withdrawn: left out); use it for any teaching or "
    "research use.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to FILE (replaced only once the export is complete) instead of stdout.",
)
@click.option(
    "--base-url",
    default="",
    help="fhir: the gateway's public address (e.g. https://derma.example.org), so that photo "
    "URLs are absolute; without it they are paths such as /api/cases/<id>/images/<id>.",
)
@fails_cleanly
def export(
    fmt: str, since: datetime | None, purpose: str, output: Path | None, base_url: str
) -> None:
    """Export every case (all owners, archived included) for analysis or archiving.

    Each case comes with its patient facts, the ids of its patient record and lesion, status
    and urgency, the anamnesis, every AI analysis (differential, tier, red flags, triage,
    errors; the newest marked current, each earlier one superseded, with its model version and
    timestamps), every re-analysis of its photo by a newer model, and the physician's review.
    Patients appear only under their pseudonymous reference; users only by id; no image bytes
    or storage keys.

    With ``--format fhir`` each case is written as its FHIR R4 resources (as
    ``GET /api/cases/<id>/fhir`` gives them), one JSON resource per line with relative
    references (``Patient/<id>``); a physician or AI model shared by cases is written once.

    Every case carries the patient's consent per scope (``consent``; in CSV the
    ``consent_*`` columns): granted, refused, or empty when not recorded. ``--purpose
    teaching`` exports only the cases whose teaching/research consent is currently granted.

    Streamed: memory stays flat however many cases there are. The summary line goes to stderr,
    so stdout holds only the export.

    \b
    Examples:
      flask cases export --format csv --output cases.csv
      flask cases export --since 2026-12-01 | jq length
      flask cases export --format fhir --base-url https://derma.example.org -o cases.ndjson
      flask cases export --purpose teaching --format csv -o teaching.csv
    """
    fmt, purpose = fmt.lower(), purpose.lower()
    day = since.date() if since is not None else None

    def write(out: TextIO) -> int:
        if fmt == "fhir":
            return fhir.export_ndjson(out, since=day, base_url=base_url, purpose=purpose)
        return exports.export_cases(out, fmt=fmt, since=day, purpose=purpose)

    if output is None:
        count = write(sys.stdout)
        sys.stdout.flush()
        where = "stdout"
    else:
        count = _export_to_file(output, write)
        where = str(output)
    scope = f" created or changed since {day.isoformat()}" if day else ""
    if purpose == "teaching":
        scope += " whose patient granted teaching/research use"
    cases_text = f"{count} case{'s' if count != 1 else ''}"
    click.echo(f"Exported {cases_text}{scope} as {fmt} to {where}.", err=True)


def _export_to_file(output: Path, write: Callable[[TextIO], int]) -> int:
    """Write the export to a private (0600) temporary file beside ``output``, then move it
    into place: a failed export never leaves a truncated file under the name asked for."""
    folder = output.resolve().parent
    if not folder.is_dir():
        raise click.ClickException(f"The folder {folder} does not exist; nothing was exported.")
    handle, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            count = write(out)
        os.replace(tmp_name, output)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return count


@cases.command("unarchive", short_help="Restore a case archived by mistake (audited).")
@click.argument("case_id", type=click.UUID)
@click.option("--reason", required=True, help="Why the case is restored (recorded in the audit).")
@fails_cleanly
def unarchive(case_id: uuid.UUID, reason: str) -> None:
    """Return the archived case CASE_ID to the status it had before it was archived (a
    reviewed case comes back signed); the audit records the reason (actor: the CLI)."""
    case = archive.unarchive_case(actor=None, case_id=case_id, reason=reason)
    click.echo(f"Case {case.id} is {case.status} again.")
