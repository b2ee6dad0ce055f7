"""``flask check``: are the database, the image store and the AI Service ready for traffic?"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.services.checks import run_checks


@click.command(
    "check", short_help="Check the database, storage and AI Service; PASS/FAIL per line."
)
@with_appcontext
def check() -> None:
    """Check the database (reachable, migrations at head), storage and the AI Service.

    Prints one PASS/FAIL line per check and exits 1 when any check fails, so deploy scripts can
    run it as a gate before sending traffic.
    """
    results = run_checks()
    width = max(len(result.name) for result in results)
    for result in results:
        status = click.style("PASS", fg="green") if result.ok else click.style("FAIL", fg="red")
        click.echo(f"{status}  {result.name.ljust(width)}  {result.detail}")
    failed = [result.name for result in results if not result.ok]
    if failed:
        click.echo(f"\n{len(failed)} of {len(results)} checks failed: {', '.join(failed)}.")
        click.get_current_context().exit(1)
    click.echo(f"\nAll {len(results)} checks passed.")
