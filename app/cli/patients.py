"""``flask patients``: find and resolve patients recorded twice under references that differ
only in letter case (``PT-001`` / ``pt-001``), which migration 0015 refuses to leave as two.

Whether two such records are one person is a clinical decision: these commands only do what
the operator says (``merge`` asks for confirmation), and every change is audited.
"""

from __future__ import annotations

import json
import uuid

import click
from flask.cli import AppGroup

from app.cli.common import fails_cleanly
from app.services.lesions import twins

patients = AppGroup(
    "patients",
    help="Patients recorded twice under references differing only in letter case: "
    "list, merge (one person) or rename (two people).",
)


@patients.command("duplicates")
@click.option("--json", "as_json", is_flag=True, help="Print the groups as JSON.")
def duplicates(as_json: bool) -> None:
    """List each physician's patients whose references differ only in letter case."""
    groups = twins.reference_twins()
    if as_json:
        click.echo(
            json.dumps(
                [
                    [{**vars(twin), "patient_id": str(twin.patient_id)} for twin in group]
                    for group in groups
                ],
                ensure_ascii=False,
            )
        )
        return
    if not groups:
        click.echo("No patient references differing only in letter case.")
        return
    for group in groups:
        click.echo(f"Owner {group[0].owner_id}:")
        for twin in group:
            born = f", born {twin.birth_year}" if twin.birth_year else ""
            click.echo(
                f"  {twin.patient_id}  {twin.reference!r}  {twin.lesion_count} lesion(s), "
                f"{twin.visit_count} visit(s){born}"
            )
    click.echo(
        "Same patient: flask patients merge <patient id> --into <patient id>. "
        "Two patients: flask patients rename <patient id> <new reference>."
    )


@patients.command("merge")
@click.argument("source_id", type=click.UUID)
@click.option("--into", "into_id", type=click.UUID, required=True, help="The patient kept.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@fails_cleanly
def merge(source_id: uuid.UUID, into_id: uuid.UUID, yes: bool) -> None:
    """Move every lesion and visit of SOURCE_ID to the patient --into (one person recorded
    twice); SOURCE_ID's emptied record is deleted. Audited."""
    if not yes:
        click.confirm(
            f"Merge patient {source_id} into {into_id}? Only if they are the same person.",
            abort=True,
        )
    kept = twins.merge_patients(actor=None, source_id=source_id, into_id=into_id)
    click.echo(f"Merged {source_id} into {kept.id} ({kept.reference}).")


@patients.command("rename")
@click.argument("patient_id", type=click.UUID)
@click.argument("reference")
@fails_cleanly
def rename(patient_id: uuid.UUID, reference: str) -> None:
    """Give PATIENT_ID a new pseudonymous REFERENCE (two people recorded under references that
    differ only in letter case); its cases show the new one. Audited."""
    patient = twins.rename_patient(actor=None, patient_id=patient_id, reference=reference)
    click.echo(f"Patient {patient.id} is now {patient.reference}.")
