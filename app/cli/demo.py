"""``flask demo seed``: a demo physician and demo cases, so a new portal is not empty."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.cli.common import fails_cleanly, quiet_logs
from app.services import demo as demo_service
from app.services.clinical_record.words import percent

demo = AppGroup("demo", help="Demo data for trying the portal (never real patient data).")


def _case_line(seed: demo_service.CaseSeed) -> str:
    done = ", ".join(seed.done) if seed.done else "already there"
    result = ""
    if seed.top_diagnosis is not None:
        # As the portal shows it (0.996 → "99.6 %"), never claiming certainty.
        share = f" ({percent(seed.probability)})" if seed.probability is not None else ""
        result = f"AI: {seed.top_diagnosis}{share}"
    urgency = f"urgency {seed.urgency}" if seed.urgency else ""
    columns = [seed.reference, done.ljust(27), seed.status.ljust(13), urgency.ljust(17), result]
    return "  " + "  ".join(columns).rstrip()


@demo.command("seed", short_help="Create a demo physician and demo cases (idempotent).")
@click.option(
    "--samples",
    "samples",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with the demo photos [default: ../shared/samples/images beside the repository].",
)
@click.option(
    "--password",
    default=demo_service.DEMO_PASSWORD,
    show_default=True,
    help="Password of the demo account when it is created (an existing one is never changed).",
)
@click.option("--verbose", is_flag=True, help="Also show the log lines of the AI calls made.")
@fails_cleanly
def seed(samples: Path | None, password: str, verbose: bool) -> None:
    """Create the demo physician and five demo cases through the real services, AI included.

    Four cases get a photo from the samples folder analysed by the AI Service (one of them is
    also reviewed); the fifth stops at the questionnaire. References are DEMO-001 to DEMO-005,
    patients and answers are invented, photos are public ISIC Archive images. DEMO-LESION-1 is
    one lesion seen three times (a year ago, six months ago, today), referred at the third.

    Run it again at any time: it creates nothing that exists and finishes what an earlier run
    could not (e.g. when the AI Service was down). It needs the AI Service only for that.
    """
    samples_dir = (samples or demo_service.default_samples_dir()).resolve()
    click.echo(f"Seeding demo data: photos from {samples_dir}, analysed by the AI Service.")
    with quiet_logs(verbose=verbose):
        result = demo_service.seed_demo(
            samples_dir=samples_dir,
            password=password,
            on_case=lambda case: click.echo(_case_line(case)),
        )
    if result.lesion is not None:
        done = ", ".join(result.lesion.done) if result.lesion.done else "already there"
        click.echo(
            f"  {demo_service.demo_lesion.REFERENCE}  lesion seen 3 times: {done}  "
            f"(/api/lesions/{result.lesion.lesion_id})"
        )
    created = [case.reference for case in result.cases if "created" in case.done]
    if result.created_anything:
        what = "created" if result.user_created else "already there"
        click.echo(
            f"\nDemo physician {result.email}: {what}. "
            f"New cases: {', '.join(created) if created else 'none'}."
        )
    else:
        click.echo("\nNothing new: the demo physician and every demo case were already there.")

    login = f"{current_app.config['GATEWAY_URL']}/login"
    click.echo(f"\nLog in to the Physician Portal at {login} (as `make run` serves it)")
    click.echo(f"  email:     {result.email}")
    if result.password_works:
        click.echo(f"  password:  {result.password}")
    else:
        click.echo(
            "  password:  (the account already existed with another password; set one with\n"
            f"             `flask users reset-password --email {result.email}`)"
        )
